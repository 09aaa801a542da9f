//! The tonic `AddSyncTask` client against a real DataCollector service on a
//! loopback port: success, a refusal, a slow collector and an unreachable one.

use std::net::SocketAddr;
use std::time::Duration;
use sync_core::task::AssignFailure;

use sync_proto::datasync::data_collector_server::{DataCollector, DataCollectorServer};
use sync_proto::datasync::{AddSyncTaskRequest, GeneralResponse};
use synctool::daemon::collector_client::{CollectorClient, GrpcCollectorClient};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

struct Fake;

#[tonic::async_trait]
impl DataCollector for Fake {
    async fn add_sync_task(
        &self,
        request: Request<AddSyncTaskRequest>,
    ) -> Result<Response<GeneralResponse>, Status> {
        let req = request.into_inner();
        match req.pid {
            Some(0) => Ok(Response::new(GeneralResponse {
                code: Some(0),
                msg: Some("ok".into()),
            })),
            Some(1) => Ok(Response::new(GeneralResponse {
                code: Some(-1),
                msg: Some("why send a same task?".into()),
            })),
            _ => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err(Status::internal("too late"))
            }
        }
    }
}

async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(DataCollectorServer::new(Fake))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

fn request(pid: u32) -> AddSyncTaskRequest {
    AddSyncTaskRequest {
        tid: Some(1),
        pid: Some(pid),
        token: Some("t".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn add_sync_task_outcomes_name_the_collector() {
    let addr = serve().await.to_string();
    let client = GrpcCollectorClient::new(Duration::from_millis(800));
    assert_eq!(client.add_sync_task(addr.clone(), request(0)).await, Ok(()));

    let refused = client
        .add_sync_task(addr.clone(), request(1))
        .await
        .unwrap_err();
    let refused = refused.to_string();
    assert!(
        refused.contains(&addr) && refused.contains("why send a same task?"),
        "{refused}"
    );

    let slow = client
        .add_sync_task(addr.clone(), request(2))
        .await
        .unwrap_err();
    assert!(
        matches!(slow, AssignFailure::Unreachable { .. }),
        "a timeout is transient: {slow}"
    );
    let slow = slow.to_string();
    assert!(slow.contains(&addr), "{slow}");

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let gone = client
        .add_sync_task(closed.clone(), request(0))
        .await
        .unwrap_err();
    assert!(matches!(gone, AssignFailure::Unreachable { .. }), "{gone}");
    let gone = gone.to_string();
    assert!(gone.contains(&closed), "{gone}");

    let bad = client
        .add_sync_task("not an endpoint".into(), request(0))
        .await
        .unwrap_err();
    let bad = bad.to_string();
    assert!(bad.contains("not an endpoint"), "{bad}");
}
