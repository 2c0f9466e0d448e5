//! Tools turned off per channel: an admin's `/tools disable` in a channel (or thread) hides a
//! tool from the model there. A tool is named by its MCP server and its own name on that server
//! (not by the name the model sees, which changes when another server adds a tool of the same
//! name). The store does not check that a tool exists (servers come and go, a disabled tool
//! simply matches nothing).
//!
//! Rows written before migration 0003 may have an empty server: they mean the tool of that name
//! on any server (see `migrations/*/0003_disabled_tools_by_server.sql`).

use crate::{ChannelId, MemoryError, Store, UserId, db};

/// A tool turned off in a channel.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DisabledTool {
    /// The MCP server's configured name; empty for a row from before servers were recorded,
    /// which matches the tool on any server.
    pub server: String,
    /// The tool's own name on its server (not the exposed `server__tool` form).
    pub tool: String,
}

impl DisabledTool {
    /// Whether this entry turns off `tool` of `server`.
    pub fn matches(&self, server: &str, tool: &str) -> bool {
        self.tool == tool && (self.server.is_empty() || self.server == server)
    }
}

impl Store {
    /// Turns `server`'s `tool` off in `channel_id`, recording who did (`by`). Disabling a tool
    /// that is already off changes nothing.
    pub async fn disable_tool(
        &self,
        channel_id: ChannelId,
        server: &str,
        tool: &str,
        by: Option<UserId>,
    ) -> Result<(), MemoryError> {
        let result = sqlx::query(
            "INSERT INTO disabled_tools (channel_id, server, tool, disabled_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, server, tool) DO NOTHING",
        )
        .bind(db::id(channel_id))
        .bind(server)
        .bind(tool)
        .bind(db::opt_id(by))
        .bind(db::now())
        .execute(&self.pool)
        .await;
        // Whatever the outcome (a failure may still have committed), the copy goes.
        self.disabled_changed();
        result?;
        Ok(())
    }

    /// Turns `server`'s `tool` back on in `channel_id` (an old entry without a server, for the
    /// same tool name, goes too); `false` if it was not off there.
    pub async fn enable_tool(
        &self,
        channel_id: ChannelId,
        server: &str,
        tool: &str,
    ) -> Result<bool, MemoryError> {
        let result = sqlx::query(
            "DELETE FROM disabled_tools \
             WHERE channel_id = $1 AND tool = $3 AND (server = $2 OR server = '')",
        )
        .bind(db::id(channel_id))
        .bind(server)
        .bind(tool)
        .execute(&self.pool)
        .await;
        self.disabled_changed();
        Ok(result?.rows_affected() > 0)
    }

    /// The tools turned off in `channel_id`, sorted by server then tool (bytewise, the same on
    /// both databases whatever PostgreSQL's collation). On SQLite from the copy kept in memory
    /// (see `hot.rs`).
    pub async fn disabled_tools(
        &self,
        channel_id: ChannelId,
    ) -> Result<Vec<DisabledTool>, MemoryError> {
        if let Some(hot) = self.hot() {
            let table = hot.disabled.get(|| self.disabled_table()).await?;
            return Ok(table.get(&db::id(channel_id)).cloned().unwrap_or_default());
        }
        let rows = sqlx::query_as::<_, (String, String)>(
            "SELECT server, tool FROM disabled_tools WHERE channel_id = $1",
        )
        .bind(db::id(channel_id))
        .fetch_all(&self.pool)
        .await?;
        let mut tools: Vec<DisabledTool> = rows
            .into_iter()
            .map(|(server, tool)| DisabledTool { server, tool })
            .collect();
        tools.sort();
        Ok(tools)
    }

    /// Every channel's tools turned off, each channel's sorted (the copy SQLite keeps).
    async fn disabled_table(&self) -> Result<crate::hot::DisabledTable, MemoryError> {
        let rows = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT channel_id, server, tool FROM disabled_tools",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut table = crate::hot::DisabledTable::new();
        for (channel, server, tool) in rows {
            table
                .entry(channel)
                .or_default()
                .push(DisabledTool { server, tool });
        }
        table.values_mut().for_each(|tools| tools.sort());
        Ok(table)
    }

    /// A write to the disabled tools is committed: the copy in memory is stale.
    fn disabled_changed(&self) {
        if let Some(hot) = &self.hot {
            hot.disabled.changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_without_a_server_matches_the_tool_on_any_server() {
        let any = DisabledTool {
            server: String::new(),
            tool: "echo".into(),
        };
        assert!(any.matches("a", "echo") && any.matches("b", "echo"));
        assert!(!any.matches("a", "add"));
        let one = DisabledTool {
            server: "a".into(),
            tool: "echo".into(),
        };
        assert!(one.matches("a", "echo"));
        assert!(!one.matches("b", "echo") && !one.matches("a", "add"));
    }
}
