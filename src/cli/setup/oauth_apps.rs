//! What to enter on GitLab and Bitbucket Cloud, which have no registration-from-a-manifest:
//! the exact callback URL, scopes and permissions forgelink needs, where the values go, and the
//! check to run afterwards.

use std::path::Path;

/// The GitLab OAuth application.
pub fn gitlab(public_url: &str, config: &Path) -> String {
    format!(
        "Create an OAuth application on GitLab:\n\
         \x20 gitlab.com or a self-managed instance: User Settings > Applications (or a group's\n\
         \x20 Settings > Applications; instance-wide: Admin Area > Applications).\n\
         \n\
         \x20 Name:          forgelink\n\
         \x20 Redirect URI:  {public_url}/callback/gitlab\n\
         \x20 Confidential:  yes (ticked)\n\
         \x20 Scopes:        api, read_user\n\
         \n\
         Then put its Application ID and Secret in {config}:\n\
         \n\
         \x20 [gitlab]\n\
         \x20 base_url = \"https://gitlab.com\"    # or https://gitlab.example.com for a self-managed instance\n\
         \x20 client_id = \"<Application ID>\"     # FORGELINK_GITLAB_CLIENT_ID\n\
         \x20 client_secret = \"<Secret>\"         # FORGELINK_GITLAB_CLIENT_SECRET\n\
         \n\
         forgelink registers a webhook on each project it creates, with a secret of its own.\n\
         Only if you add a group or instance webhook by hand (to {public_url}/webhooks/gitlab),\n\
         set its secret token as gitlab.webhook_token (FORGELINK_GITLAB_WEBHOOK_TOKEN).\n\
         \n\
         Check it: forgelink serve --config {config} --check\n",
        config = super::shown(config),
    )
}

/// The Bitbucket Cloud OAuth consumer.
pub fn bitbucket(public_url: &str, config: &Path) -> String {
    format!(
        "Create an OAuth consumer on Bitbucket Cloud:\n\
         \x20 bitbucket.org > the workspace > Settings > OAuth consumers > Add consumer.\n\
         \n\
         \x20 Name:                         forgelink\n\
         \x20 Callback URL:                 {public_url}/callback/bitbucket\n\
         \x20 This is a private consumer:   yes (ticked)\n\
         \x20 Permissions:\n\
         \x20   Account:                    Read                (scope account)\n\
         \x20   Workspace membership:       Read                (scope team)\n\
         \x20   Projects:                   Read                (scope project)\n\
         \x20   Repositories:               Admin               (scope repository:admin: create repositories)\n\
         \x20   Webhooks:                   Read and write      (scope webhook: register each repository's hook)\n\
         \n\
         Then put its Key and Secret in {config}:\n\
         \n\
         \x20 [bitbucket]\n\
         \x20 key = \"<Key>\"          # FORGELINK_BITBUCKET_KEY\n\
         \x20 secret = \"<Secret>\"    # FORGELINK_BITBUCKET_SECRET\n\
         \n\
         forgelink registers a webhook on each repository it creates, with a secret of its own.\n\
         Only if you add a workspace webhook by hand (to {public_url}/webhooks/bitbucket), set its\n\
         secret as bitbucket.webhook_secret (FORGELINK_BITBUCKET_WEBHOOK_SECRET).\n\
         \n\
         Check it: forgelink serve --config {config} --check\n",
        config = super::shown(config),
    )
}
