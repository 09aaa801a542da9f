//! The tablets inside the simulation: each is a turmoil host (`tab<i>`, the
//! host of its endpoint) serving the tablet emulator's HTTP+JSON routes
//! (`GetTableStatus`, `GetTableSchema`, exactly what the emulator's server
//! answers) over its data root; collectors call them with the production
//! [`HttpTabletClient`] through a connector over the simulated network.

use std::path::PathBuf;
use std::time::Duration;

use data_collector::tablet_client::HttpTabletClient;

use crate::net;

/// The tablet client the simulated collectors use.
pub type SimTabletClient = HttpTabletClient<net::HttpConnector>;

/// The production tablet client over the simulated network.
pub fn client(timeout: Duration) -> SimTabletClient {
    HttpTabletClient::with_connector(net::HttpConnector, timeout)
}

/// The tablet host's software: the emulator's routes over `root` on `port`.
pub async fn serve(root: PathBuf, port: u16) -> turmoil::Result {
    let incoming = net::incoming(port).await?;
    sync_infra::one_port::serve_incoming(
        incoming,
        tablet_emu::server::router(&root),
        std::future::pending(),
    )
    .await?;
    Ok(())
}
