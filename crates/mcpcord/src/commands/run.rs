//! `mcpcord run`: the Discord bot in the foreground.

use super::Failure;
use crate::config::Config;

/// Checks what `run` needs, then runs the bot.
pub fn run(config: &Config) -> Result<(), Failure> {
    if config.discord.token.is_none() {
        return Err(Failure::Usage(
            "discord.token is not set: set the DISCORD_TOKEN environment variable (or `token` under \
             [discord] in mcpcord.toml). The token is on the Bot page of your application in the \
             Discord Developer Portal."
                .into(),
        ));
    }
    Err(Failure::NotBuilt {
        command: "run",
        arrives_with: "Discord adapter",
    })
}
