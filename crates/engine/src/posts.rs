//! The front end's own message ids ("posts": a Discord message, a Matrix event): which stored
//! answer they show, and which conversation a post belongs to, so a reply to an answer continues
//! its conversation.

use mcpcord_memory::{ConversationKey, MessageId, PostId};

use crate::engine::Engine;
use crate::error::EngineError;

impl Engine {
    /// Records that the stored answer `answer` was posted as `posts`, in order.
    pub async fn record_posts(
        &self,
        answer: MessageId,
        posts: &[PostId],
    ) -> Result<(), EngineError> {
        self.store()
            .set_discord_message_ids(answer, posts)
            .await
            .map_err(EngineError::from)
    }

    /// The conversation the post `post` belongs to, if it is one of a recorded answer's posts.
    pub async fn conversation_of_post(
        &self,
        post: PostId,
    ) -> Result<Option<ConversationKey>, EngineError> {
        let store = self.store();
        let Some(stored) = store.message_by_discord_id(post).await? else {
            return Ok(None);
        };
        Ok(Some(
            store.get_conversation(stored.conversation_id).await?.key,
        ))
    }
}
