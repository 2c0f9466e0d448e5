//! rmcp's `ServerHandler` for [`TestMcpServer`]: capabilities, routing of tools (hiding the extra
//! tool until it is toggled on), the prompt, resources, `server/discover` and subscriptions.

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{prompt::PromptContext, tool::ToolCallContext},
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, DiscoverResult,
        GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ResultType,
        ServerCapabilities, ServerConfig, SubscriptionFilter, Tool,
    },
    service::{RequestContext, SubscriptionContext},
};

use super::{SERVER_NAME, TestMcpServer, list_changed::ToolListChanges, resources, tools};

const INSTRUCTIONS: &str = "A test server for mcpcord. Tools: echo, add, sleep, crash, \
large_output, image, progress, ask, env, toggle_extra.";

impl TestMcpServer {
    fn tool_visible(&self, name: &str) -> bool {
        name != tools::EXTRA_TOOL || self.extra_tool_enabled()
    }
}

/// Whether the request runs on the 2026-07-28 per-request lifecycle (which wants cache hints).
fn per_request_lifecycle(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
}

impl ServerHandler for TestMcpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        // Other replies are given by the wire (`wrapper`) before a request gets here.
        let _ = context;
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_visible(&request.name) {
            return Err(ErrorData::invalid_params("tool not found", None));
        }
        let call = ToolCallContext::new(self, request, context);
        self.shared.tool_router.call(call).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .shared
            .tool_router
            .list_all()
            .into_iter()
            .filter(|tool| self.tool_visible(&tool.name))
            .collect();
        let hints = per_request_lifecycle(&context);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools,
            meta: None,
            next_cursor: None,
            // The list changes at run time: never cache it.
            ttl_ms: hints.then_some(0),
            cache_scope: hints.then_some(CacheScope::Private),
        })
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        if !self.tool_visible(name) {
            return None;
        }
        self.shared.tool_router.get(name).cloned()
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let prompt = PromptContext::new(self, request.name, request.arguments, context);
        self.shared.prompt_router.get_prompt(prompt).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let hints = per_request_lifecycle(&context);
        Ok(ListPromptsResult {
            result_type: Some(ResultType::COMPLETE),
            prompts: self.shared.prompt_router.list_all(),
            meta: None,
            next_cursor: None,
            ttl_ms: hints.then_some(0),
            cache_scope: hints.then_some(CacheScope::Public),
        })
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&request.uri).map(Into::into)
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(ToolListChanges::accepted_filter())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        self.shared.tool_list.listen(subscription).await;
        Ok(())
    }
}
