//! The test server's prompt `greet`, collected by rmcp's `#[prompt_router]`.

use rmcp::{
    handler::server::wrapper::Parameters,
    model::{PromptMessage, Role},
    prompt, prompt_router,
    schemars::{self, JsonSchema},
};
use serde::Deserialize;

use super::TestMcpServer;

#[derive(Debug, Deserialize, JsonSchema)]
struct GreetArgs {
    /// Who to greet.
    name: String,
}

#[prompt_router(vis = "pub(super)")]
impl TestMcpServer {
    /// A prompt asking the model to greet someone by name.
    #[prompt(
        name = "greet",
        description = "Ask the model to greet someone by name."
    )]
    async fn greet(
        &self,
        Parameters(GreetArgs { name }): Parameters<GreetArgs>,
    ) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            format!("Please greet {name} warmly, in one short sentence."),
        )]
    }
}
