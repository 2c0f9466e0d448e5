//! Admin notices from the engine (an MCP server needing a login): each is logged as a WARN
//! and, when [`BotConfig::admin_channel`](crate::BotConfig::admin_channel) is set, posted
//! there, pinging nobody.

use std::sync::Arc;

use crate::bot::Context;
use crate::mentions::no_pings;
use crate::pacer::Route;

/// Logs and posts every admin notice until the engine has no more.
pub(crate) async fn post_admin_notices(ctx: Arc<Context>) {
    let mut notices = ctx.engine.admin_notices();
    while let Some(notice) = notices.next().await {
        tracing::warn!(notice = %notice.text, "admin notice");
        let Some(channel) = ctx.config().admin_channel else {
            continue;
        };
        let mentions = no_pings();
        let request = ctx
            .http
            .create_message(channel)
            .content(&notice.text)
            .allowed_mentions(Some(&mentions));
        if let Err(error) = ctx
            .pacer
            .send(Route::create_message(channel), request)
            .await
        {
            tracing::warn!(%error, %channel, "the admin notice could not be posted");
        }
    }
}
