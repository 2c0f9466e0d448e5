//! Admin notices: an MCP server that needs an OAuth login (none saved, no one to authorize) is
//! announced in `admin_channel`, with the command to run, pinging nobody.

mod common;

use common::*;
use mcpcord_mcp::{AuthSpec, Callbacks, HostOptions, McpHost, OAuthSpec, ServerSpec};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::oauth::{AuthOptions, FakeAuthServer};
use twilight_model::id::Id;

#[tokio::test]
async fn a_server_needing_a_login_is_announced_in_the_admin_channel() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let spec =
        ServerSpec::http("guarded", double.mcp_url()).with_auth(AuthSpec::OAuth(OAuthSpec {
            redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
            ..OAuthSpec::default()
        }));
    let host = McpHost::start(vec![spec], HostOptions::default(), Callbacks::default());
    let options = Options {
        host: Some(host),
        ..Options::default()
    };
    let mut bot = start_with(options, |config| {
        config.admin_channel = Some(Id::new(FakeDiscord::CHANNEL_ID));
    })
    .await;
    let notice = bot
        .wait_answers(FakeDiscord::CHANNEL_ID, "the admin notice", |answers| {
            answers.iter().find_map(|m| {
                let text = m["content"].as_str()?;
                text.contains("needs a login").then(|| text.to_owned())
            })
        })
        .await;
    assert!(notice.contains("`mcpcord mcp login guarded`"), "{notice}");
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}
