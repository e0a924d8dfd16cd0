//! Assembles the Pingora server: the client listener, the admin listener, and shutdown.

use crate::admin::Admin;
use crate::config::Config;
use crate::gateway::{Gateway, Shared};
use crate::inflight::Inflight;
use crate::listener::{ConnRules, Guarded};
use crate::redact::Redactor;
use async_trait::async_trait;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use std::sync::Arc;
use std::time::Duration;

/// Builds the server for `config` and runs it until SIGTERM (drain) or SIGINT (immediate).
pub fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    // Pingora binds listeners inside its services and panics there on failure, leaving the
    // process up with nothing listening; an address already taken is reported here instead.
    for addr in config.listen.iter().chain(config.admin_listen.iter()) {
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    }
    crate::trim::start();
    let conf = ServerConf {
        threads: config.server.threads,
        work_stealing: config
            .server
            .work_stealing
            .unwrap_or(config.server.threads > 1),
        // Pingora sleeps this long after SIGTERM before stopping its runtimes; the drain
        // service below exits earlier, as soon as the last in-flight request is done.
        grace_period_seconds: Some(config.server.grace_period.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let redactor = Redactor::new(config.secrets());
    crate::logging::mask_with(redactor.clone());
    let inflight = Inflight::default();
    let config = Arc::new(config);
    let shared =
        Arc::new(Shared::new(config.clone(), Arc::new(redactor)).map_err(|e| e.to_string())?);

    let conn_rules = ConnRules {
        max_header_bytes: config.server.max_header_bytes,
        header_timeout: config.server.header_timeout,
        write_timeout: config.server.client_write_timeout,
    };
    // One service per address, so that each listener has its own connection cap.
    for addr in &config.listen {
        let proxy = pingora::proxy::http_proxy(
            &server.configuration,
            Gateway::new(shared.clone(), inflight.clone()),
        );
        let app = Guarded::new(proxy, config.server.max_connections, conn_rules);
        let mut api = Service::new(format!("tollgate api {addr}"), app);
        api.add_tcp(&addr.to_string());
        server.add_service(api);
    }

    if let Some(addr) = config.admin_listen {
        let app = Guarded::new(
            Admin::new(inflight.clone(), shared.clone(), config.listen[0]),
            config.server.max_connections,
            conn_rules,
        );
        let mut admin = Service::new("tollgate admin".to_string(), app);
        admin.threads = Some(1);
        admin.add_tcp(&addr.to_string());
        server.add_service(admin);
    }
    server.add_service(background_service(
        "drain",
        Drain {
            inflight,
            grace: config.server.grace_period,
            shared: shared.clone(),
        },
    ));

    tracing::info!(listen = ?config.listen, admin = ?config.admin_listen, "tollgate serving");
    server.run_forever()
}

/// Exits the process once a graceful shutdown has no requests left in flight.
struct Drain {
    inflight: Inflight,
    grace: Duration,
    shared: Arc<Shared>,
}

impl Drain {
    /// What must be written before the process goes: the usage ledger, then the log.
    fn persist(&self) {
        if let Some(ledger) = &self.shared.ledger {
            if !ledger.sync(Duration::from_secs(5)) {
                tracing::error!("the usage ledger could not be synced before exit");
            }
        }
        crate::logging::flush();
    }
}

#[async_trait]
impl BackgroundService for Drain {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if shutdown.changed().await.is_err() {
            return;
        }
        self.inflight.start_draining();
        tracing::info!(in_flight = self.inflight.count(), "draining before exit");
        let deadline = tokio::time::Instant::now() + self.grace;
        let mut idle_polls = 0;
        while tokio::time::Instant::now() < deadline {
            // Two idle polls in a row: a connection accepted just before the listeners closed
            // has had time to become a counted request.
            idle_polls = if self.inflight.count() == 0 {
                idle_polls + 1
            } else {
                0
            };
            if idle_polls >= 2 {
                tracing::info!("drained, exiting");
                self.persist();
                std::process::exit(0);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The grace period is over and requests are still running; what was recorded is kept.
        self.persist();
    }
}
