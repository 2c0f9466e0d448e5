//! Tools turned off per channel: an admin's `/tools disable` in a channel (or thread) hides a
//! tool from the model there. Tools are named as the model sees them; the store does not check
//! that a tool exists (servers come and go, a disabled name simply matches nothing).

use crate::{MemoryError, Store, db};

impl Store {
    /// Turns `tool` off in `channel_id`, recording who did (`by`). Disabling a tool that is
    /// already off changes nothing.
    pub async fn disable_tool(
        &self,
        channel_id: u64,
        tool: &str,
        by: Option<u64>,
    ) -> Result<(), MemoryError> {
        sqlx::query(
            "INSERT INTO disabled_tools (channel_id, tool, disabled_by, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id, tool) DO NOTHING",
        )
        .bind(db::id(channel_id))
        .bind(tool)
        .bind(db::opt_id(by))
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Turns `tool` back on in `channel_id`; `false` if it was not off there.
    pub async fn enable_tool(&self, channel_id: u64, tool: &str) -> Result<bool, MemoryError> {
        let result = sqlx::query("DELETE FROM disabled_tools WHERE channel_id = $1 AND tool = $2")
            .bind(db::id(channel_id))
            .bind(tool)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The tools turned off in `channel_id`, by name, sorted (bytewise, the same on both
    /// databases whatever PostgreSQL's collation).
    pub async fn disabled_tools(&self, channel_id: u64) -> Result<Vec<String>, MemoryError> {
        let mut tools = sqlx::query_scalar::<_, String>(
            "SELECT tool FROM disabled_tools WHERE channel_id = $1",
        )
        .bind(db::id(channel_id))
        .fetch_all(&self.pool)
        .await?;
        tools.sort();
        Ok(tools)
    }
}
