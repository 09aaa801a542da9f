//! The collector's port: the tonic `DataCollector` service (`AddSyncTask`),
//! the status page (`GET /status`, `?format=json`) and `GET /metrics`
//! (Prometheus text, see [`crate::metrics`]), served together as brpc served
//! them (see [`sync_infra::one_port`]).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sync_core::proto::datasync::data_collector_server::{DataCollector, DataCollectorServer};
use sync_core::proto::datasync::{AddSyncTaskRequest, GeneralResponse};
use sync_infra::one_port::{self, MAX_MESSAGE_BYTES};
use sync_infra::status_page::wants_json;
use sync_infra::store::LocalStore;
use tonic::{Request, Response as GrpcResponse, Status};
use tracing::warn;

use crate::manager::TaskManager;
use crate::tablet_client::TabletApi;
use crate::{metrics, status};

/// The service state: the tasks and the endpoint they are served on.
pub struct Collector<S, T> {
    pub endpoint: String,
    pub tasks: TaskManager<S, T>,
    pub clock: fn() -> u64,
}

/// The `DataCollector` gRPC service.
pub struct CollectorGrpc<S, T>(pub Arc<Collector<S, T>>);

#[tonic::async_trait]
impl<S, T> DataCollector for CollectorGrpc<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    async fn add_sync_task(
        &self,
        request: Request<AddSyncTaskRequest>,
    ) -> Result<GrpcResponse<GeneralResponse>, Status> {
        let task = request.into_inner();
        let (tid, pid) = (task.tid(), task.pid());
        let reply = match self.0.tasks.add_sync_task(task).await {
            Ok(()) => GeneralResponse {
                code: Some(0),
                msg: Some("ok".into()),
            },
            Err(e) => {
                warn!(tid, pid, "AddSyncTask refused: {e}");
                GeneralResponse {
                    code: Some(-1),
                    msg: Some(e.to_string()),
                }
            }
        };
        Ok(GrpcResponse::new(reply))
    }
}

/// gRPC and the status page on one router.
pub fn router<S, T>(collector: Arc<Collector<S, T>>) -> axum::Router
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    let grpc = DataCollectorServer::new(CollectorGrpc(collector.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let grpc = tonic::service::Routes::new(grpc).into_axum_router();
    let http = axum::Router::new()
        .route("/status", get(status_page::<S, T>))
        .route("/metrics", get(metrics_page::<S, T>))
        .with_state(collector);
    one_port::router(grpc, http)
}

async fn status_page<S, T>(
    State(collector): State<Arc<Collector<S, T>>>,
    RawQuery(query): RawQuery,
) -> Response
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    let tasks = collector.tasks.statuses();
    let now = (collector.clock)();
    if wants_json(query.as_deref()) {
        let body = status::to_json(&collector.endpoint, now, &tasks).to_string();
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        let body = status::to_html(&collector.endpoint, now, &tasks);
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
}

async fn metrics_page<S, T>(State(collector): State<Arc<Collector<S, T>>>) -> Response
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    let body = metrics::render(&collector.tasks.statuses(), (collector.clock)());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}
