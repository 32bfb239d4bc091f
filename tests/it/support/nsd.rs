//! NSD as a test peer: one foreground `nsd -d` on one address, its config, zone list and log in
//! a state folder of the caller's (so tests running at once never share one), stopped by its
//! PID when dropped — SIGTERM, so NSD stops its own children, SIGKILL only if it lingers.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::{query, system_binary, udp_raw};

/// How long NSD may take to load its zones and answer a first query.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Nsd {
    child: Child,
    state: PathBuf,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nsd {
    /// NSD on `ip:53` serving `zones` (origin, file), its state in `state` (created).
    pub(crate) fn start(state: &Path, ip: IpAddr, zones: &[(String, PathBuf)]) -> Nsd {
        let sections: String = zones
            .iter()
            .map(|(origin, file)| {
                format!(
                    "zone:\n  name: \"{origin}\"\n  zonefile: \"{}\"\n",
                    file.display()
                )
            })
            .collect();
        Nsd::start_with(state, ip, &sections)
    }

    /// NSD on `ip:53` with `sections` (its `zone:` and `key:` sections, whole) after the
    /// server settings every test needs; its state in `state` (created), where relative zone
    /// files are read from. Response rate limiting is off: a test must see every answer.
    pub(crate) fn start_with(state: &Path, ip: IpAddr, sections: &str) -> Nsd {
        std::fs::create_dir_all(state).expect("NSD state folder");
        let s = state.display();
        let conf = format!(
            "server:\n  ip-address: {ip}\n  port: 53\n  do-ip6: no\n  server-count: 1\n  \
             username: \"\"\n  chroot: \"\"\n  zonesdir: \"{s}\"\n  pidfile: \"{s}/nsd.pid\"\n  \
             database: \"\"\n  zonelistfile: \"{s}/zone.list\"\n  xfrdfile: \"{s}/xfrd.state\"\n  \
             xfrdir: \"{s}\"\n  logfile: \"{s}/nsd.log\"\n  refuse-any: no\n  rrl-ratelimit: 0\n\
             remote-control:\n  control-enable: no\n{sections}"
        );
        let conf_path = state.join("nsd.conf");
        std::fs::write(&conf_path, conf).expect("write nsd.conf");
        let child = Command::new(system_binary(
            "nsd",
            "NSD (Debian package nsd), a test peer",
        ))
        .arg("-d")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nsd");
        Nsd {
            child,
            state: state.to_path_buf(),
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("nsd.log")).unwrap_or_default()
    }

    /// Polls `server` for `zone`'s SOA until NSD answers it, failing with its log if NSD dies
    /// or stays silent.
    pub(crate) async fn wait_ready(&mut self, server: SocketAddr, zone: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let probe = query(zone, RecordType::SOA, false, Some(1232))
            .to_vec()
            .expect("encode probe");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nsd exited during startup ({status}); log:\n{}", self.log());
            }
            if let Some(bytes) = udp_raw(server, &probe, Duration::from_millis(200)).await
                && Message::from_vec(&bytes).is_ok_and(|m| m.answers.len() == 1)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nsd did not answer on {server} within {READY_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
