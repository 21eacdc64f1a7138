//! The `TaskHubSidecarService` gRPC surface, routed by hand over tonic's generic
//! `Grpc` with the message types of `dapr-durabletask-proto` (which ships only a client).
//! The service has no proto package, so every path is `/TaskHubSidecarService/<Rpc>`.

use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll};

use dapr_durabletask_proto::{
    ActivityResponse, CompleteTaskResponse, CreateInstanceRequest, CreateInstanceResponse, GetInstanceHistoryRequest,
    GetInstanceHistoryResponse, GetInstanceRequest, GetInstanceResponse, ListInstanceIDsRequest,
    ListInstanceIDsResponse, PurgeInstancesRequest, PurgeInstancesResponse, RaiseEventRequest, RaiseEventResponse,
    ResumeRequest, ResumeResponse, SuspendRequest, SuspendResponse, TaskRouter, TerminateRequest, TerminateResponse,
    WorkerCapability, WorkflowResponse,
};
use futures_util::Stream;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, StdError};
use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic::Status;
use tonic_prost::ProstCodec;

use crate::engine::{workflow_state, Engine};
use crate::status;

/// Requests may carry large workflow results (the SDK allows 64 MiB JSON payloads).
const MAX_REQUEST_BYTES: usize = 128 * 1024 * 1024;

/// The gRPC service; cheap to clone.
#[derive(Clone)]
pub(crate) struct SidecarService {
    pub(crate) engine: Engine,
}

impl NamedService for SidecarService {
    const NAME: &'static str = "TaskHubSidecarService";
}

impl<B> tonic::codegen::Service<http::Request<B>> for SidecarService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        let method = request.uri().path().strip_prefix("/TaskHubSidecarService/").unwrap_or_default().to_string();
        match method.as_str() {
            "Hello" => unary(request, |_: ()| async { Ok(()) }),
            "StartInstance" => unary(request, move |r: CreateInstanceRequest| async move {
                refuse_other_app(&engine, &r.router)?;
                let instance_id = engine.start_instance(r).await?;
                Ok(CreateInstanceResponse { instance_id })
            }),
            "GetInstance" => unary(request, move |r: GetInstanceRequest| async move {
                Ok(match engine.instance(&r.instance_id).await? {
                    Some(row) => GetInstanceResponse {
                        exists: true,
                        workflow_state: Some(workflow_state(&row, r.get_inputs_and_outputs)),
                    },
                    None => GetInstanceResponse { exists: false, workflow_state: None },
                })
            }),
            "WaitForInstanceStart" => unary(request, move |r: GetInstanceRequest| async move {
                let row = engine.wait_until(&r.instance_id, |row| row.status != status::PENDING as i64).await?;
                Ok(GetInstanceResponse {
                    exists: true,
                    workflow_state: Some(workflow_state(&row, r.get_inputs_and_outputs)),
                })
            }),
            "WaitForInstanceCompletion" => unary(request, move |r: GetInstanceRequest| async move {
                let row = engine.wait_until(&r.instance_id, |row| status::is_terminal(row.status as i32)).await?;
                Ok(GetInstanceResponse {
                    exists: true,
                    workflow_state: Some(workflow_state(&row, r.get_inputs_and_outputs)),
                })
            }),
            "RaiseEvent" => unary(request, move |r: RaiseEventRequest| async move {
                engine.raise_event(&r.instance_id, r.name, r.input).await?;
                Ok(RaiseEventResponse {})
            }),
            "TerminateInstance" => unary(request, move |r: TerminateRequest| async move {
                engine.terminate(&r.instance_id, r.output, r.recursive).await?;
                Ok(TerminateResponse {})
            }),
            "SuspendInstance" => unary(request, move |r: SuspendRequest| async move {
                engine.suspend(&r.instance_id, r.reason, false).await?;
                Ok(SuspendResponse {})
            }),
            "ResumeInstance" => unary(request, move |r: ResumeRequest| async move {
                engine.suspend(&r.instance_id, r.reason, true).await?;
                Ok(ResumeResponse {})
            }),
            "PurgeInstances" => unary(request, move |r: PurgeInstancesRequest| async move {
                if r.router
                    .as_ref()
                    .and_then(|router| router.target_app_id.as_deref())
                    .is_some_and(|t| t != engine.app_id())
                {
                    return Err(Status::invalid_argument("cross-app purge is not supported"));
                }
                let deleted = engine.purge(r.request, r.recursive, r.force.unwrap_or(false)).await?;
                Ok(PurgeInstancesResponse { deleted_instance_count: deleted, is_complete: Some(true) })
            }),
            "ListInstanceIDs" => unary(request, move |r: ListInstanceIDsRequest| async move {
                let page_size = r.page_size.unwrap_or(1024).clamp(1, 10_000) as usize;
                let after = r.continuation_token.unwrap_or_default();
                let (instance_ids, continuation_token) = engine.list_ids(&after, page_size).await?;
                Ok(ListInstanceIDsResponse { instance_ids, continuation_token })
            }),
            "GetInstanceHistory" => unary(request, move |r: GetInstanceHistoryRequest| async move {
                Ok(GetInstanceHistoryResponse { events: engine.history(&r.instance_id).await? })
            }),
            "RerunWorkflowFromEvent" => {
                unary(request, |_: dapr_durabletask_proto::RerunWorkflowFromEventRequest| async {
                    Err::<dapr_durabletask_proto::RerunWorkflowFromEventResponse, _>(Status::unimplemented(
                        "rerunning a workflow from an event is not implemented",
                    ))
                })
            }
            "GetWorkItems" => {
                server_streaming(request, move |r: dapr_durabletask_proto::GetWorkItemsRequest| async move {
                    let stateful = r.capabilities.contains(&(WorkerCapability::StatefulHistory as i32));
                    Ok(tokio_stream::wrappers::UnboundedReceiverStream::new(engine.connect_worker(stateful)))
                })
            }
            "CompleteOrchestratorTask" | "CompleteWorkflowTask" => {
                unary(request, move |r: WorkflowResponse| async move {
                    engine.complete_turn(r).await.map_err(|e| Status::unavailable(e.to_string()))?;
                    Ok(CompleteTaskResponse {})
                })
            }
            "CompleteActivityTask" => unary(request, move |r: ActivityResponse| async move {
                engine.complete_activity(r).await.map_err(|e| Status::unavailable(e.to_string()))?;
                Ok(CompleteTaskResponse {})
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented(format!("unknown method {method}")).into_http()) }),
        }
    }
}

/// Starting an instance in another app needs Dapr's cross-app routing, which a single
/// engine does not have.
fn refuse_other_app(engine: &Engine, router: &Option<TaskRouter>) -> Result<(), Status> {
    match router.as_ref().and_then(|r| r.target_app_id.as_deref()) {
        Some(target) if !target.is_empty() && target != engine.app_id() => {
            Err(Status::invalid_argument(format!("cross-app workflows are not supported (target app {target})")))
        }
        _ => Ok(()),
    }
}

/// Adapts an async function to tonic's unary service (called once per request).
struct UnaryFn<F>(Option<F>);

impl<Req, Resp, F, Fut> UnaryService<Req> for UnaryFn<F>
where
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<tonic::Response<Resp>, Status>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        call_once(&mut self.0, request)
    }
}

/// Adapts an async function returning a stream to tonic's server-streaming service.
struct StreamingFn<F>(Option<F>);

impl<Req, Resp, F, Fut, S> ServerStreamingService<Req> for StreamingFn<F>
where
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<S, Status>> + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    type Response = Resp;
    type ResponseStream = S;
    type Future = BoxFuture<tonic::Response<S>, Status>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        call_once(&mut self.0, request)
    }
}

/// Runs the one-shot handler in `slot` on `request`.
fn call_once<Req, Resp, F, Fut>(
    slot: &mut Option<F>,
    request: tonic::Request<Req>,
) -> BoxFuture<tonic::Response<Resp>, Status>
where
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let future = slot.take().map(|handler| handler(request.into_inner()));
    Box::pin(async move {
        match future {
            Some(future) => future.await.map(tonic::Response::new),
            None => Err(Status::internal("handler called twice")),
        }
    })
}

fn codec<Resp, Req>() -> Grpc<ProstCodec<Resp, Req>>
where
    Resp: prost::Message + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
{
    Grpc::new(ProstCodec::<Resp, Req>::default()).apply_max_message_size_config(Some(MAX_REQUEST_BYTES), None)
}

fn unary<B, Req, Resp, F, Fut>(request: http::Request<B>, handler: F) -> BoxFuture<http::Response<Body>, Infallible>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnOnce(Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    Box::pin(async move { Ok(codec::<Resp, Req>().unary(UnaryFn(Some(handler)), request).await) })
}

fn server_streaming<B, Req, Resp, F, Fut, S>(
    request: http::Request<B>,
    handler: F,
) -> BoxFuture<http::Response<Body>, Infallible>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnOnce(Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, Status>> + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    Box::pin(async move { Ok(codec::<Resp, Req>().server_streaming(StreamingFn(Some(handler)), request).await) })
}
