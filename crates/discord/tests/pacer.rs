//! The request pacer against FakeDiscord enforcing Discord's limits strictly: 50 requests in
//! any rolling second, and one message bucket per channel that creates and edits share (5 per
//! 5 s). Requests go through a real twilight-http client, as the bot sends them.

use std::sync::Arc;

use futures::future::join_all;
use mcpcord_discord::bot::{BotConfig, RestProxy, http_client};
use mcpcord_discord::pacer::{Pacer, Route};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::GuildConfig;
use twilight_model::channel::Message;
use twilight_model::id::Id;

const FIRST_CHANNEL: u64 = 900_000_000_000_000_000;

async fn fake(channels: u64) -> FakeDiscord {
    let mut guild = GuildConfig::new(FakeDiscord::GUILD_ID, "Paced");
    for n in 0..channels {
        guild = guild.text_channel(FIRST_CHANNEL + n, format!("room-{n}"));
    }
    FakeDiscord::builder()
        .without_default_guild()
        .guild(guild)
        .start()
        .await
}

fn client(discord: &FakeDiscord) -> Arc<twilight_http::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = BotConfig::new(FakeDiscord::TOKEN);
    config.rest_proxy = Some(RestProxy {
        authority: discord.rest_addr_string(),
        http: true,
    });
    Arc::new(http_client(&config))
}

/// Posts a message in `channel` and edits it `edits` times, each through the pacer.
async fn post_and_edit(http: &twilight_http::Client, pacer: &Pacer, channel: u64, edits: usize) {
    let channel = Id::new(channel);
    let request = http.create_message(channel).content("first");
    let message: Message = pacer
        .send(Route::create_message(channel), request)
        .await
        .expect("created")
        .model()
        .await
        .expect("a message");
    for n in 0..edits {
        let text = format!("edit {n}");
        let request = http
            .update_message(channel, message.id)
            .content(Some(&text));
        pacer
            .send(Route::update_message(channel), request)
            .await
            .expect("edited");
    }
}

#[tokio::test]
async fn a_burst_across_channels_never_meets_the_global_limit() {
    const CHANNELS: u64 = 60;
    let discord = fake(CHANNELS).await;
    let http = client(&discord);
    let pacer = Pacer::default();
    // 60 channels at once, each a create, an edit and a typing indicator: 180 requests, more
    // than three times the global limit.
    let bursts = (0..CHANNELS).map(|n| {
        let (http, pacer) = (http.clone(), pacer.clone());
        async move {
            let channel = FIRST_CHANNEL + n;
            let typing = http.create_typing_trigger(Id::new(channel));
            pacer
                .send(Route::typing(Id::new(channel)), typing)
                .await
                .expect("typing");
            post_and_edit(&http, &pacer, channel, 1).await;
        }
    });
    join_all(bursts).await;
    let hits = discord.rate_limited();
    assert!(hits.is_empty(), "refused: {hits:#?}");
    let sent = discord
        .requests()
        .iter()
        .filter(|r| r.path.contains("/channels/"))
        .count();
    assert_eq!(sent, CHANNELS as usize * 3, "each request sent once");
}

#[tokio::test]
async fn creates_and_edits_in_one_channel_share_its_bucket() {
    let discord = fake(1).await;
    let http = client(&discord);
    let pacer = Pacer::default();
    // Two messages posted and edited at once in one channel: 2 creates and 8 edits, twice the
    // bucket, which the edits of a message not seen before would otherwise walk into.
    join_all([
        post_and_edit(&http, &pacer, FIRST_CHANNEL, 4),
        post_and_edit(&http, &pacer, FIRST_CHANNEL, 4),
    ])
    .await;
    let hits = discord.rate_limited();
    assert!(hits.is_empty(), "refused: {hits:#?}");
    let requests = discord.requests();
    let statuses: std::collections::HashSet<_> = requests
        .iter()
        .filter(|r| r.path.contains("/messages"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200].into(), "every request answered 200");
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.contains("/messages"))
            .count(),
        10
    );
}

#[tokio::test]
async fn a_raised_global_limit_is_used() {
    const CHANNELS: u64 = 150;
    let discord = FakeDiscord::builder()
        .without_default_guild()
        .guild(
            (0..CHANNELS).fold(GuildConfig::new(FakeDiscord::GUILD_ID, "Big"), |g, n| {
                g.text_channel(FIRST_CHANNEL + n, format!("room-{n}"))
            }),
        )
        .global_rate_limit(Some(200))
        .start()
        .await;
    let http = client(&discord);
    let pacer = Pacer::new(200.try_into().unwrap());
    join_all((0..CHANNELS).map(|n| {
        let (http, pacer) = (http.clone(), pacer.clone());
        async move { post_and_edit(&http, &pacer, FIRST_CHANNEL + n, 0).await }
    }))
    .await;
    let requests = discord.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/messages"))
        .map(|r| r.at)
        .collect();
    assert_eq!(posts.len(), CHANNELS as usize);
    let hits = discord.rate_limited();
    assert!(hits.is_empty(), "refused: {hits:#?}");
}
