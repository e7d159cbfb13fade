//! Given/when/then tests of the project decider: every transition and every refusal.

use super::*;
use chrono::{TimeZone, Utc};
use forgelink_events::{
    Event, ProjectCreated, ProjectDetached, ProjectImported, RepoAccessPending, RepoAutoAdded, RepoCreated,
    RepoCreationFailed, RepoDeleted, RepoPushed, RepoRef, RepoRenamed,
};
use uuid::Uuid;

const PROJECT: Uuid = Uuid::from_u128(0x9001);
const OTHER: Uuid = Uuid::from_u128(0x9002);
const ACCOUNT: Uuid = Uuid::from_u128(0xacc0);

struct When {
    state: ProjectState,
    result: Result<Vec<Event>, ProjectError>,
}

fn given(history: impl IntoIterator<Item = Event>) -> Vec<Event> {
    history.into_iter().collect()
}

trait WhenExt {
    fn when(self, command: ProjectCommand) -> When;
}

impl WhenExt for Vec<Event> {
    fn when(self, command: ProjectCommand) -> When {
        let state = fold_project(&self);
        let result = decide_project(&state, &command);
        When { state, result }
    }
}

impl When {
    #[track_caller]
    fn then(self, expected: impl IntoIterator<Item = Event>) -> ProjectState {
        let expected: Vec<Event> = expected.into_iter().collect();
        let events = self.result.unwrap_or_else(|e| panic!("refused: {e}"));
        assert_eq!(events, expected);
        events.iter().fold(self.state, evolve_project)
    }

    #[track_caller]
    fn then_nothing(self) {
        self.then([]);
    }

    #[track_caller]
    fn then_error(self, expected: impl FnOnce(&ProjectError) -> bool) -> ProjectError {
        match self.result {
            Ok(events) => panic!("accepted with {events:?}"),
            Err(e) => {
                assert!(expected(&e), "unexpected refusal: {e:?}");
                e
            }
        }
    }
}

fn created() -> Event {
    ProjectCreated {
        project_id: PROJECT,
        name: "Payments".into(),
        account_id: ACCOUNT,
    }
    .into()
}

fn repo_created(id: &str) -> Event {
    RepoCreated {
        provider_id: id.into(),
        full_name: "acme/payments".into(),
        clone_url: "http://127.0.0.1:1/acme/payments.git".into(),
        web_url: "http://127.0.0.1:1/acme/payments".into(),
    }
    .into()
}

fn record_created(id: &str) -> ProjectCommand {
    ProjectCommand::RecordRepoCreated {
        provider_id: id.into(),
        full_name: "acme/payments".into(),
        clone_url: "http://127.0.0.1:1/acme/payments.git".into(),
        web_url: "http://127.0.0.1:1/acme/payments".into(),
    }
}

fn pending() -> Event {
    RepoAccessPending {
        full_name: "acme/payments".into(),
        settings_url: "http://127.0.0.1:1/settings".into(),
    }
    .into()
}

fn pend() -> ProjectCommand {
    ProjectCommand::RecordAccessPending {
        full_name: "acme/payments".into(),
        settings_url: "http://127.0.0.1:1/settings".into(),
    }
}

fn blueprint() -> RepoRef {
    RepoRef {
        id: "77".into(),
        full_name: "acme/blueprint".into(),
    }
}

fn import(project_id: Uuid, bound_to: Option<Uuid>) -> ProjectCommand {
    ProjectCommand::ImportProject {
        project_id,
        name: "Blueprint".into(),
        account_id: ACCOUNT,
        repository: blueprint(),
        bound_to,
        web_url: Some("https://github.example/acme/blueprint".into()),
        clone_url: Some("https://github.example/acme/blueprint.git".into()),
    }
}

fn push(commit: &str) -> ProjectCommand {
    ProjectCommand::RecordPush {
        git_ref: "refs/heads/main".into(),
        commit: commit.into(),
        author: "octocat".into(),
        pushed_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single().unwrap(),
        before: None,
        settles_head: false,
    }
}

fn create() -> ProjectCommand {
    ProjectCommand::CreateProject {
        project_id: PROJECT,
        name: "Payments".into(),
        account_id: ACCOUNT,
    }
}

#[test]
fn a_new_project_is_created_and_waits_for_its_repository() {
    let s = given([]).when(create()).then([created()]);
    assert_eq!(s.status, ProjectStatus::CreatingRepository);
    assert_eq!(s.account_id, Some(ACCOUNT));
}

#[test]
fn creating_the_same_project_again_records_nothing_but_another_is_refused() {
    given([created()]).when(create()).then_nothing();
    given([created()])
        .when(ProjectCommand::CreateProject {
            project_id: PROJECT,
            name: "Other".into(),
            account_id: ACCOUNT,
        })
        .then_error(|e| matches!(e, ProjectError::ProjectExists { .. }));
}

#[test]
fn a_project_without_a_name_is_refused_naming_the_field() {
    let e = given([])
        .when(ProjectCommand::CreateProject {
            project_id: PROJECT,
            name: "  ".into(),
            account_id: ACCOUNT,
        })
        .then_error(|e| matches!(e, ProjectError::MissingField { field: "name", .. }));
    assert_eq!(e.field(), Some("name"));
}

#[test]
fn the_created_repository_makes_the_project_ready() {
    let s = given([created()])
        .when(record_created("1"))
        .then([repo_created("1")]);
    assert_eq!(s.status, ProjectStatus::Ready);
    assert_eq!(s.repository.unwrap().provider_id, "1");
}

#[test]
fn a_project_has_exactly_one_repository() {
    given([created(), repo_created("1")])
        .when(record_created("1"))
        .then_nothing();
    given([created(), repo_created("1")])
        .when(record_created("2"))
        .then_error(|e| matches!(e, ProjectError::AlreadyHasRepository { .. }));
}

#[test]
fn github_access_is_recorded_once_seen_by_the_installation() {
    let s = given([created(), repo_created("1")])
        .when(ProjectCommand::RecordRepoAutoAdded { installation_id: 42 })
        .then([RepoAutoAdded { installation_id: 42 }.into()]);
    assert_eq!(s.installation_id, Some(42));
    given([
        created(),
        repo_created("1"),
        RepoAutoAdded { installation_id: 42 }.into(),
    ])
    .when(ProjectCommand::RecordRepoAutoAdded { installation_id: 42 })
    .then_nothing();
}

#[test]
fn access_cannot_be_recorded_before_there_is_a_repository() {
    given([created()])
        .when(ProjectCommand::RecordRepoAutoAdded { installation_id: 42 })
        .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
}

#[test]
fn a_repository_out_of_the_installations_sight_waits_with_grant_access() {
    let s = given([created(), repo_created("1")])
        .when(pend())
        .then([pending()]);
    assert_eq!(s.status, ProjectStatus::AwaitingAccess);
    let next = s.next_action().unwrap();
    assert!(next.contains("grant the app access to acme/payments"), "{next}");
    given([created(), repo_created("1"), pending()])
        .when(pend())
        .then_nothing();
    let s = given([created(), repo_created("1"), pending()])
        .when(ProjectCommand::RecordRepoAutoAdded { installation_id: 42 })
        .then([RepoAutoAdded { installation_id: 42 }.into()]);
    assert_eq!(s.status, ProjectStatus::Ready);
    assert_eq!(s.next_action(), None);
}

#[test]
fn a_repository_found_after_access_was_asked_for_keeps_waiting_for_access() {
    let s = given([created(), pending()])
        .when(record_created("1"))
        .then([repo_created("1")]);
    assert_eq!(s.status, ProjectStatus::AwaitingAccess);
}

#[test]
fn a_failed_creation_is_recorded_once_and_ends_the_flow() {
    let fail = || ProjectCommand::FailRepoCreation {
        reason: "acme/payments exists and is not this project's".into(),
    };
    let s = given([created()]).when(fail()).then([RepoCreationFailed {
        reason: "acme/payments exists and is not this project's".into(),
    }
    .into()]);
    assert_eq!(s.status, ProjectStatus::Failed);
    let failed = RepoCreationFailed { reason: "x".into() };
    given([created(), failed.clone().into()])
        .when(fail())
        .then_nothing();
    given([created(), failed.into()])
        .when(record_created("1"))
        .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
    given([created(), repo_created("1")])
        .when(fail())
        .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
}

#[test]
fn an_existing_repository_is_imported_without_creating_one() {
    let s = given([]).when(import(PROJECT, None)).then([ProjectImported {
        project_id: PROJECT,
        name: "Blueprint".into(),
        account_id: ACCOUNT,
        repository: blueprint(),
        web_url: Some("https://github.example/acme/blueprint".into()),
        clone_url: Some("https://github.example/acme/blueprint.git".into()),
    }
    .into()]);
    assert_eq!(s.status, ProjectStatus::Ready);
    assert!(s.imported);
    let repo = s.repository.as_ref().expect("the repository");
    assert_eq!(repo.web_url, "https://github.example/acme/blueprint");
    assert_eq!(repo.clone_url, "https://github.example/acme/blueprint.git");
}

#[test]
fn importing_a_repository_bound_to_another_project_is_refused_naming_it() {
    let e = given([])
        .when(import(PROJECT, Some(OTHER)))
        .then_error(|e| matches!(e, ProjectError::RepositoryBound { .. }));
    assert!(e.to_string().contains("acme/blueprint"), "{e}");
    assert!(e.to_string().contains(&OTHER.to_string()), "{e}");
}

#[test]
fn importing_again_records_nothing_and_importing_over_a_project_is_refused() {
    let imported: Event = ProjectImported {
        project_id: PROJECT,
        name: "Blueprint".into(),
        account_id: ACCOUNT,
        repository: blueprint(),
        web_url: None,
        clone_url: None,
    }
    .into();
    given([imported])
        .when(import(PROJECT, Some(PROJECT)))
        .then_nothing();
    given([created()])
        .when(import(PROJECT, None))
        .then_error(|e| matches!(e, ProjectError::ProjectExists { .. }));
}

#[test]
fn commands_on_a_project_that_does_not_exist_are_refused() {
    for c in [
        record_created("1"),
        ProjectCommand::DeleteRepo,
        push("abc"),
        pend(),
    ] {
        given([])
            .when(c)
            .then_error(|e| matches!(e, ProjectError::NoSuchProject));
    }
}

#[test]
fn a_rename_is_recorded_from_the_current_name_and_a_repeat_records_nothing() {
    let s = given([created(), repo_created("1")])
        .when(ProjectCommand::RenameRepo {
            to: "acme/payments-eu".into(),
        })
        .then([RepoRenamed {
            from: "acme/payments".into(),
            to: "acme/payments-eu".into(),
        }
        .into()]);
    assert_eq!(s.repository.unwrap().full_name, "acme/payments-eu");
    given([created(), repo_created("1")])
        .when(ProjectCommand::RenameRepo {
            to: "acme/payments".into(),
        })
        .then_nothing();
    given([created()])
        .when(ProjectCommand::RenameRepo { to: "x/y".into() })
        .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
}

#[test]
fn a_deleted_repository_is_recorded_once() {
    let s = given([created(), repo_created("1")])
        .when(ProjectCommand::DeleteRepo)
        .then([RepoDeleted {}.into()]);
    assert_eq!(s.status, ProjectStatus::RepositoryDeleted);
    given([created(), repo_created("1"), RepoDeleted {}.into()])
        .when(ProjectCommand::DeleteRepo)
        .then_nothing();
    given([created(), repo_created("1"), RepoDeleted {}.into()])
        .when(push("abc"))
        .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
}

fn pushed(commit: &str) -> Event {
    RepoPushed {
        git_ref: "refs/heads/main".into(),
        commit: commit.into(),
        author: "octocat".into(),
        pushed_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single().unwrap(),
        before: None,
        history: false,
    }
    .into()
}

#[test]
fn each_push_is_recorded_once_and_the_last_one_is_kept() {
    let s = given([created(), repo_created("1")])
        .when(push("abc"))
        .then([pushed("abc")]);
    assert_eq!(s.last_push.unwrap().commit, "abc");
    given([created(), repo_created("1"), pushed("abc")])
        .when(push("abc"))
        .then_nothing();
    let s = given([created(), repo_created("1"), pushed("abc")])
        .when(push("def"))
        .then([pushed("def")]);
    assert_eq!(s.last_push.unwrap().commit, "def");
}

#[test]
fn a_detached_project_refuses_everything_but_detaching_again() {
    let detached: Event = ProjectDetached {
        reason: "moved to another repository".into(),
    }
    .into();
    let s = given([created(), repo_created("1")])
        .when(ProjectCommand::DetachProject {
            reason: "moved to another repository".into(),
        })
        .then([detached.clone()]);
    assert_eq!(s.status, ProjectStatus::Detached);
    let history = given([created(), repo_created("1"), detached]);
    history
        .clone()
        .when(ProjectCommand::DetachProject {
            reason: "again".into(),
        })
        .then_nothing();
    for c in [push("abc"), ProjectCommand::DeleteRepo, pend()] {
        history
            .clone()
            .when(c)
            .then_error(|e| matches!(e, ProjectError::NotAllowed { .. }));
    }
}

fn push_after(commit: &str, before: &str) -> ProjectCommand {
    match push(commit) {
        ProjectCommand::RecordPush {
            git_ref,
            commit,
            author,
            pushed_at,
            ..
        } => ProjectCommand::RecordPush {
            git_ref,
            commit,
            author,
            pushed_at,
            before: Some(before.into()),
            settles_head: false,
        },
        _ => unreachable!(),
    }
}

fn pushed_as(commit: &str, before: &str, history: bool) -> Event {
    let Event::RepoPushed(mut e) = pushed(commit) else {
        unreachable!()
    };
    e.before = Some(before.into());
    e.history = history;
    e.into()
}

#[test]
fn an_old_push_sent_again_under_a_new_id_never_becomes_the_head() {
    let history = [
        created(),
        repo_created("1"),
        pushed("aaa"),
        pushed_as("bbb", "aaa", false),
    ];
    // `aaa` again: its commit is recorded already, nothing new and the head stays `bbb`.
    let s = given(history.clone()).when(push("aaa")).then([]);
    assert_eq!(s.last_push.unwrap().commit, "bbb");
    // A push that starts from an older commit than the head is history.
    let s = given(history.clone())
        .when(push_after("ccc", "aaa"))
        .then([pushed_as("ccc", "aaa", true)]);
    assert_eq!(s.heads["refs/heads/main"], "bbb");
    assert_eq!(s.last_push.unwrap().commit, "bbb");
    // The one that follows the head moves it.
    let s = given(history)
        .when(push_after("ddd", "bbb"))
        .then([pushed_as("ddd", "bbb", false)]);
    assert_eq!(s.last_push.unwrap().commit, "ddd");
}

#[test]
fn reconciliation_settles_the_head_even_on_a_commit_seen_before() {
    let history = [
        created(),
        repo_created("1"),
        pushed("aaa"),
        pushed_as("bbb", "aaa", false),
    ];
    let ProjectCommand::RecordPush {
        git_ref,
        commit,
        author,
        pushed_at,
        ..
    } = push("aaa")
    else {
        unreachable!()
    };
    let settle = ProjectCommand::RecordPush {
        git_ref,
        commit,
        author,
        pushed_at,
        before: Some("bbb".into()),
        settles_head: true,
    };
    let s = given(history).when(settle).then([pushed_as("aaa", "bbb", false)]);
    assert_eq!(s.last_push.unwrap().commit, "aaa");
}
