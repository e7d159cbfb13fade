//! The saga's steps for a GitHub installation request (a member who may not install the app
//! asked an organization owner to): find the request on GitHub and who made it, then, once an
//! owner approved it, check the new installation as the app sees it before believing the
//! webhook that announced it.

use super::ports::GitHubPort;
use super::retry::{run_step, RetryPolicy, StepError};
use super::verify::{installation_grant, settle, stop, Later, Stop};
use crate::domain::AccountCommand;
use uuid::Uuid;

const GH: &str = "GitHub";

fn why<'p>(what: &'static str, policy: &'p RetryPolicy) -> impl Fn(StepError) -> Stop + 'p {
    move |e| stop(GH, what, policy, e)
}

/// Finds the person's pending request: who they are (their token, from the callback's code)
/// and the newest request they made (the app's list). `IdentifyInstallRequest`, or `FailLink`
/// when GitHub lists none of theirs.
pub async fn identify_install_request(
    github: &dyn GitHubPort,
    policy: &RetryPolicy,
    attempt_id: Uuid,
    code_ref: &str,
) -> Result<AccountCommand, Later> {
    let result = async {
        let what = "exchange the authorization code";
        let token = run_step(policy, GH, what, || github.exchange_code(code_ref))
            .await
            .map_err(why(what, policy))?;
        let what = "read who you are";
        let login = run_step(policy, GH, what, || github.user_login(&token))
            .await
            .map_err(why(what, policy))?;
        let what = "list the app's installation requests";
        let requests = run_step(policy, GH, what, || github.installation_requests())
            .await
            .map_err(why(what, policy))?;
        let newest = requests
            .into_iter()
            .filter(|r| r.requester.eq_ignore_ascii_case(&login))
            .max_by_key(|r| r.created_at);
        match newest {
            Some(r) => Ok(AccountCommand::IdentifyInstallRequest {
                attempt_id,
                requester: login,
                organization: r.organization,
            }),
            None => Err(Stop::Fail(format!(
                "GitHub lists no pending installation request by {login}: an owner may already have \
                 approved or declined it; link again to see where the app stands"
            ))),
        }
    }
    .await;
    settle(attempt_id, result)
}

/// Checks the installation an owner made from the request: the app must see it on the
/// requested organization, with its repositories. `ApproveInstall`, or `FailLink`.
pub async fn verify_requested_installation(
    github: &dyn GitHubPort,
    policy: &RetryPolicy,
    attempt_id: Uuid,
    installation_id: u64,
    organization: &str,
) -> Result<AccountCommand, Later> {
    let result = async {
        let what = "read the installation";
        let facts = run_step(policy, GH, what, || github.installation(installation_id))
            .await
            .map_err(why(what, policy))?;
        if facts.installation_id != installation_id || !facts.account_login.eq_ignore_ascii_case(organization)
        {
            return Err(Stop::Fail(format!(
                "the approved installation {installation_id} is on {}, not on {organization} where the \
                 request was made; link again",
                facts.account_login
            )));
        }
        let grant = installation_grant(github, policy, facts).await?;
        Ok(AccountCommand::ApproveInstall { attempt_id, grant })
    }
    .await;
    settle(attempt_id, result)
}
