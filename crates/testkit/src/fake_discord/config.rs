//! How a FakeDiscord is set up: the bot's identity and token, the guilds, channels and users
//! that exist, gateway timing, rate-limit buckets and interaction deadlines.

use super::FakeDiscord;
use super::limits::INTERACTION_DEADLINE;
use super::ratelimit::{BucketLimit, RateLimitConfig};
use std::time::Duration;

/// Intent bits Discord treats as privileged: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
pub const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | (1 << 15);

/// One guild of the fake world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildConfig {
    /// Guild id.
    pub id: u64,
    /// Guild name.
    pub name: String,
    /// Text channels: (id, name).
    pub channels: Vec<(u64, String)>,
    /// User ids of members besides the bot (each must be a known user).
    pub members: Vec<u64>,
}

impl GuildConfig {
    /// A guild with no channels and no members besides the bot.
    pub fn new(id: u64, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            channels: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Adds a text channel.
    pub fn text_channel(mut self, id: u64, name: impl Into<String>) -> Self {
        self.channels.push((id, name.into()));
        self
    }

    /// Adds a member (add the user to the fake with [`FakeDiscordBuilder::user`] too).
    pub fn member(mut self, user_id: u64) -> Self {
        self.members.push(user_id);
        self
    }
}

/// Everything a FakeDiscord is started with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub token: String,
    pub application_id: u64,
    pub application_name: String,
    pub bot_user_id: u64,
    pub bot_name: String,
    pub heartbeat_interval: Duration,
    pub guilds: Vec<GuildConfig>,
    pub users: Vec<(u64, String, bool)>,
    pub rate_limits: RateLimitConfig,
    pub interaction_deadline: Duration,
    pub allowed_privileged_intents: u64,
    pub wait_timeout: Duration,
    pub attachment_latency: Duration,
    pub echo_bot_messages: bool,
    pub shards: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: FakeDiscord::TOKEN.to_owned(),
            application_id: FakeDiscord::APPLICATION_ID,
            application_name: FakeDiscord::BOT_NAME.to_owned(),
            bot_user_id: FakeDiscord::BOT_USER_ID,
            bot_name: FakeDiscord::BOT_NAME.to_owned(),
            heartbeat_interval: Duration::from_millis(41_250),
            guilds: vec![
                GuildConfig::new(FakeDiscord::GUILD_ID, "Fake Guild")
                    .text_channel(FakeDiscord::CHANNEL_ID, "general")
                    .member(FakeDiscord::USER_ID),
            ],
            users: vec![(
                FakeDiscord::USER_ID,
                FakeDiscord::USER_NAME.to_owned(),
                false,
            )],
            rate_limits: RateLimitConfig::default(),
            interaction_deadline: INTERACTION_DEADLINE,
            allowed_privileged_intents: PRIVILEGED_INTENTS,
            wait_timeout: Duration::from_secs(10),
            attachment_latency: Duration::ZERO,
            echo_bot_messages: true,
            shards: 1,
        }
    }
}

/// Sets up a [`FakeDiscord`] before starting it; [`FakeDiscord::builder`] makes one.
#[derive(Debug, Clone, Default)]
pub struct FakeDiscordBuilder {
    pub(crate) config: Config,
}

impl FakeDiscordBuilder {
    /// The bot token the fake accepts (without the `Bot ` prefix).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = token.into();
        self
    }

    /// The application id (also the webhook id of interaction followups).
    pub fn application_id(mut self, id: u64) -> Self {
        self.config.application_id = id;
        self
    }

    /// The bot user's id and name.
    pub fn bot_user(mut self, id: u64, name: impl Into<String>) -> Self {
        self.config.bot_user_id = id;
        self.config.bot_name = name.into();
        self
    }

    /// The heartbeat interval sent in Hello (Discord's is about 41 s).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_interval = interval;
        self
    }

    /// Adds a guild.
    pub fn guild(mut self, guild: GuildConfig) -> Self {
        self.config.guilds.push(guild);
        self
    }

    /// Removes the default guild ([`FakeDiscord::GUILD_ID`] with [`FakeDiscord::CHANNEL_ID`]).
    pub fn without_default_guild(mut self) -> Self {
        self.config.guilds.retain(|g| g.id != FakeDiscord::GUILD_ID);
        self
    }

    /// Adds a human user.
    pub fn user(mut self, id: u64, name: impl Into<String>) -> Self {
        self.config.users.push((id, name.into(), false));
        self
    }

    /// Adds another bot user (to test that the bot ignores bots).
    pub fn bot(mut self, id: u64, name: impl Into<String>) -> Self {
        self.config.users.push((id, name.into(), true));
        self
    }

    /// Bucket size and window for routes without a specific limit.
    pub fn default_rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.config.rate_limits.default = BucketLimit { limit, window };
        self
    }

    /// Bucket size and window for creating, editing and deleting messages in one channel
    /// (Discord: 5 per 5 s). Creating and editing share one bucket, as on Discord.
    pub fn message_rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.config
            .rate_limits
            .set_messages(BucketLimit { limit, window });
        self
    }

    /// Requests per rolling second the bot may send, interaction endpoints excepted (Discord:
    /// 50, more for large bots); `None` lifts the global limit.
    pub fn global_rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.config.rate_limits.global = per_second;
        self
    }

    /// Bucket size and window for one route, named by method and spec path template
    /// (e.g. `"POST"`, `"/channels/{channel_id}/typing"`).
    pub fn rate_limit(
        mut self,
        method: &str,
        template: &str,
        limit: u32,
        window: Duration,
    ) -> Self {
        self.config
            .rate_limits
            .set(method, template, BucketLimit { limit, window });
        self
    }

    /// Time allowed between an interaction's injection and its first callback (3 s).
    pub fn interaction_deadline(mut self, deadline: Duration) -> Self {
        self.config.interaction_deadline = deadline;
        self
    }

    /// Which privileged intents the application is allowed (default: all); asking for others
    /// in Identify closes the gateway with 4014.
    pub fn allowed_privileged_intents(mut self, intents: u64) -> Self {
        self.config.allowed_privileged_intents = intents;
        self
    }

    /// How long the `wait_for_*` helpers wait (default 10 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.config.wait_timeout = timeout;
        self
    }

    /// How long the fake's CDN takes before it serves an attachment's bytes (default: no
    /// delay); a real CDN takes tens to hundreds of milliseconds.
    pub fn attachment_latency(mut self, latency: Duration) -> Self {
        self.config.attachment_latency = latency;
        self
    }

    /// Whether messages the bot creates or edits come back as MESSAGE_CREATE / MESSAGE_UPDATE
    /// dispatches, as on Discord (default true).
    pub fn echo_bot_messages(mut self, echo: bool) -> Self {
        self.config.echo_bot_messages = echo;
        self
    }

    /// The shard count `/gateway/bot` recommends (default 1).
    pub fn shards(mut self, shards: u64) -> Self {
        self.config.shards = shards.max(1);
        self
    }

    /// Starts the fake.
    pub async fn start(self) -> FakeDiscord {
        FakeDiscord::start_with(self.config).await
    }
}
