//! The configuration's retention rules reach the database at start-up, as the whole truth.

use std::time::Duration;

use mcpcord::app::apply_retention;
use mcpcord::config::{Config, Env};
use mcpcord_memory::{GuildId, Store};

fn storage(toml: &str) -> mcpcord::config::StorageConfig {
    Config::from_toml(toml, &Env::new()).unwrap().storage
}

#[tokio::test]
async fn retention_follows_the_configuration_at_each_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/db.sqlite", dir.path().display()))
        .await
        .unwrap();
    let day = Duration::from_secs(86_400);

    // First start: two guilds with rules, and one for DMs and the terminal.
    let first = storage(
        r#"[storage]
        retention = { "111" = "1d", "222" = "2d" }
        retention_default = "7d"
        "#,
    );
    apply_retention(&store, &first).await.unwrap();
    assert_eq!(
        store
            .guild(GuildId::new(111))
            .await
            .unwrap()
            .unwrap()
            .retention,
        Some(day)
    );
    assert_eq!(
        store
            .guild(GuildId::new(222))
            .await
            .unwrap()
            .unwrap()
            .retention,
        Some(2 * day)
    );
    assert_eq!(store.retention_outside_guilds(), Some(7 * day));

    // Next start: guild 222's rule and the default were removed from the file.
    let second = storage("[storage]\nretention = { \"111\" = \"3d\" }\n");
    apply_retention(&store, &second).await.unwrap();
    assert_eq!(
        store
            .guild(GuildId::new(111))
            .await
            .unwrap()
            .unwrap()
            .retention,
        Some(3 * day)
    );
    assert_eq!(
        store
            .guild(GuildId::new(222))
            .await
            .unwrap()
            .unwrap()
            .retention,
        None
    );
    assert_eq!(store.retention_outside_guilds(), None);
    store.close().await;
}
