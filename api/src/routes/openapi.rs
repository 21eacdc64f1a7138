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
        super::auth::signup, super::auth::login, super::auth::logout, super::auth::change_password, super::auth::me, super::auth::update_me,
        super::tasks::create_task, super::tasks::list_tasks, super::tasks::get_task,
        super::tasks::update_task, super::tasks::delete_task, super::tasks::complete_task, super::tasks::reopen_task,
        super::audit::audit_trail,
        super::notifications::list_notifications, super::notifications::mark_read, super::notifications::stream_notifications,
        super::tasks::bulk_delete, super::tasks::parse,
        super::ops::list_dead_letters, super::ops::replay_dead_letter, super::ops::list_accounts,
        super::ops::disable_account, super::ops::enable_account,
        super::ops_workflows::list, super::ops_workflows::histogram, super::ops_workflows::stats,
        super::ops_workflows::detail, super::ops_workflows::history, super::ops_workflows::act,
        super::ops_workflows::batch, super::ops_workflows::stream,
        super::workflows::list_workflows, super::workflows::get_workflow, super::workflows::workflow_history,
        super::workflows::raise_event, super::workflows::control_series, super::workflows::list_confirmations, super::workflows::get_confirmation, super::workflows::decide,
        super::workflows::snooze,
        super::chat::chat, super::chat::chat_stream, super::chat::list_conversations, super::chat::get_conversation,
        super::filters::list_filters, super::filters::create_filter, super::filters::check_filter, super::filters::update_filter,
        super::filters::delete_filter, super::filters::list_tags,
        super::health::healthz, super::health::readyz, super::health::metrics,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail,
        errand_domain::TaskView, errand_domain::NewTask, errand_domain::TaskPatch,
        errand_domain::Priority, errand_domain::Status, errand_domain::Reminder, errand_domain::ReminderInput,
        errand_domain::RecurrenceInput, errand_domain::RecurrenceView, errand_domain::UserProfile, errand_domain::Role,
        super::tasks::BulkDelete, super::tasks::ParseRequest, super::tasks::ParseResult, errand_domain::Span, errand_domain::SpanKind, crate::workflows::ConfirmationView, crate::workflows::WorkflowView,
        super::workflows::WorkflowList, super::workflows::ConfirmationList, super::workflows::HistoryView, super::workflows::DecisionBody,
        super::workflows::SnoozeBody,
        super::chat::ChatRequest, super::chat::ChatResponse, super::chat::ConversationSummary, super::chat::ConversationList, super::chat::ConversationView,
        super::auth::SignupRequest, super::auth::LoginRequest, super::auth::AuthResponse, super::auth::PasswordChange, super::auth::ProfileChange,
        super::filters::FilterView, super::filters::FilterList, super::filters::NewFilter, super::filters::FilterChange,
        super::filters::TagCount, super::filters::TagList, super::filters::FilterCheck,
        super::filters::FilterCheckResult, super::filters::FilterProblem,
        super::ops::DeadLetterList, super::ops::DeadLetterView, super::ops::AccountList, super::ops::AccountView,
        errand_ops::Page, errand_ops::InstanceView, errand_ops::WaitView, errand_ops::Histogram, errand_ops::Bucket, errand_ops::DetailView,
        errand_ops::HistoryView, errand_ops::StatsView, errand_ops::batch::BatchSpec, errand_ops::batch::BatchAction,
        super::ops_workflows::ActionRequest, super::ops_workflows::InstanceAction, super::ops_workflows::ActionResult, super::ops_workflows::BatchRequest,
        super::ops_workflows::BatchAnswer,
    )),
    modifiers(&BearerAuth, &SharedErrors),
    tags((name = "auth"), (name = "tasks"), (name = "events"), (name = "workflows"), (name = "confirmations"),
        (name = "notifications"), (name = "chat"), (name = "filters"), (name = "operations")),
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

/// The answers every operation can give because of what all requests pass through —
/// the JSON body extractor (400 malformed, 408 too slow, 413 too large, 415 not
/// JSON, 422 not the schema) and authentication (401) — documented on each one.
struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{Schema, SchemaType, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            )
        };
        let body_errors = [
            ("400", "the body is not JSON"),
            ("408", "the body did not arrive in time"),
            ("413", "the body is larger than 256 KiB"),
            ("415", "the body is not application/json"),
            ("422", "the body does not fit the schema, or breaks a rule (details name the field)"),
        ];
        // utoipa renders no minProperties: a bulk delete names its tasks or `done`.
        if let Some(RefOr::T(Schema::Object(bulk))) =
            openapi.components.as_mut().and_then(|c| c.schemas.get_mut("BulkDelete"))
        {
            bulk.min_properties = Some(1);
        }
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete, &mut item.put].into_iter().flatten();
            for operation in operations {
                // A parameter is never JSON null on the wire: absent, or a value.
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema {
                        if let SchemaType::Array(types) = &schema.schema_type {
                            let types: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                            if let [one] = types.as_slice() {
                                schema.schema_type = SchemaType::Type(one.clone());
                            }
                        }
                    }
                }
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    for (status, description) in body_errors {
                        responses.entry(status.to_string()).or_insert_with(|| error(description));
                    }
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses
                        .entry("401".to_string())
                        .or_insert_with(|| error("no token, or one that no longer works"));
                }
                if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    responses.entry("400".to_string()).or_insert_with(|| error("a parameter is malformed"));
                }
            }
        }
    }
}
