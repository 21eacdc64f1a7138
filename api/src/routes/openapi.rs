use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { axum::Json(ApiDoc::openapi()) }))
}

/// The OpenAPI 3.1 document of the HTTP API, generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Errand API", description = "Tasks with priority, tags, due dates, reminders and recurrence."),
    paths(
        super::auth::signup, super::auth::login, super::auth::logout, super::auth::change_password, super::auth::me,
        super::tasks::create_task, super::tasks::list_tasks, super::tasks::get_task,
        super::tasks::update_task, super::tasks::delete_task, super::tasks::complete_task, super::tasks::reopen_task,
        super::audit::audit_trail,
        super::notifications::list_notifications, super::notifications::mark_read, super::notifications::stream_notifications,
        super::tasks::bulk_delete,
        super::ops::list_dead_letters, super::ops::replay_dead_letter, super::ops::list_accounts,
        super::ops::disable_account, super::ops::enable_account,
        super::workflows::list_workflows, super::workflows::get_workflow, super::workflows::workflow_history,
        super::workflows::raise_event, super::workflows::list_confirmations, super::workflows::decide,
        super::workflows::snooze,
        super::chat::chat, super::chat::chat_stream, super::chat::list_conversations, super::chat::get_conversation,
        super::health::healthz, super::health::readyz, super::health::metrics,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail,
        errand_domain::TaskView, errand_domain::NewTask, errand_domain::TaskPatch,
        errand_domain::Priority, errand_domain::Status, errand_domain::Reminder, errand_domain::ReminderInput,
        errand_domain::RecurrenceInput, errand_domain::RecurrenceView, errand_domain::UserProfile, errand_domain::Role,
        super::tasks::BulkDelete, crate::workflows::ConfirmationView, crate::workflows::WorkflowView,
        super::workflows::WorkflowList, super::workflows::ConfirmationList, super::workflows::HistoryView, super::workflows::DecisionBody,
        super::workflows::SnoozeBody,
        super::chat::ChatRequest, super::chat::ChatResponse, super::chat::ConversationSummary, super::chat::ConversationList, super::chat::ConversationView,
        super::auth::SignupRequest, super::auth::LoginRequest, super::auth::AuthResponse, super::auth::PasswordChange,
        super::ops::DeadLetterList, super::ops::DeadLetterView, super::ops::AccountList, super::ops::AccountView,
    )),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "tasks"), (name = "events"), (name = "workflows"), (name = "confirmations"),
        (name = "notifications"), (name = "chat"), (name = "operations")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
