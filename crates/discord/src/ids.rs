//! The one place where twilight's typed ids (`Id<UserMarker>`, …) become the engine's
//! ([`UserId`], [`GuildId`], [`ChannelId`], [`PostId`]) and back.
//!
//! Both sides are typed, so a user id can never be passed where a guild id belongs; the engine
//! and the store know nothing of twilight, so the conversions live here, in the front end.

use mcpcord_engine::{ChannelId, GuildId, PostId, UserId};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker};

/// A twilight id as the engine's id of the same kind.
pub trait ToEngine {
    /// The engine's id type of the same kind.
    type Engine;

    /// The engine's id with the same number.
    fn to_engine(self) -> Self::Engine;
}

/// An engine id as twilight's id of the same kind.
pub trait ToTwilight {
    /// twilight's id type of the same kind.
    type Twilight;

    /// twilight's id with the same number, or `None` for 0 (which no Discord object has).
    fn to_twilight(self) -> Option<Self::Twilight>;
}

macro_rules! same_kind {
    ($marker:ty, $engine:ty) => {
        impl ToEngine for Id<$marker> {
            type Engine = $engine;

            fn to_engine(self) -> $engine {
                <$engine>::new(self.get())
            }
        }

        impl ToTwilight for $engine {
            type Twilight = Id<$marker>;

            fn to_twilight(self) -> Option<Id<$marker>> {
                Id::new_checked(self.get())
            }
        }
    };
}

same_kind!(UserMarker, UserId);
same_kind!(GuildMarker, GuildId);
same_kind!(ChannelMarker, ChannelId);
same_kind!(MessageMarker, PostId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_number_both_ways() {
        let user: Id<UserMarker> = Id::new(175_928_847_299_117_063);
        assert_eq!(user.to_engine(), UserId::new(175_928_847_299_117_063));
        assert_eq!(user.to_engine().to_twilight(), Some(user));
        let guild: Id<GuildMarker> = Id::new(u64::MAX);
        assert_eq!(guild.to_engine().to_twilight(), Some(guild));
        let channel: Id<ChannelMarker> = Id::new(9);
        assert_eq!(channel.to_engine(), ChannelId::new(9));
        let post: Id<MessageMarker> = Id::new(12);
        assert_eq!(post.to_engine().to_twilight(), Some(post));
        assert_eq!(PostId::new(0).to_twilight(), None);
    }
}
