//! Errand's HTTP edge and system of record, and the composition root of the
//! `errand` binary.
//!
//! Public surface:
//! - [`config`]: layered configuration ([`config::Config`]).
//! - [`app`]: [`app::App::build`] and [`app::App::serve`], the running service.
//! - [`tasks`]: [`tasks::TaskService`], every task write with its events.
//! - [`auth`]: password hashing, access tokens and sessions.
//! - [`limits`]: rate limits, the password-hashing bound, stream caps, client addresses.
//! - [`server`]: the HTTP server with connection limits and header deadlines.
//! - [`error`]: [`error::ApiError`] and the JSON error body.
//! - [`routes`]: the axum router and the OpenAPI document.
//! - [`extract`]: request extractors (JSON, query, authenticated user).
//! - [`task_api`]: the in-process `TaskApi` workflow activities use.
//! - [`workflows`]: confirmations, snoozes and the workflow status views.
//! - [`ui`]: the web UI's files, embedded or from a directory.
//! - [`chat`]: the assistant's tools as a user.
//! - [`conversations`]: chat conversations in the database or Dapr's state store.
//! - [`secrets`]: the JWT secret, database URL and OpenAI key from a Dapr secret store.

pub mod app;
pub mod auth;
pub mod chat;
pub mod config;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod limits;
pub mod ops_cli;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod task_api;
pub mod tasks;
pub mod ui;
pub mod workflows;
