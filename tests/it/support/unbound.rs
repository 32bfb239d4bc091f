//! Unbound as a test peer: one foreground `unbound -d` on one address, its config and log in a
//! state folder of the caller's; killed by its PID when dropped. Each test adds what makes
//! its Unbound its own (hints, modules, trust anchors, stub zones) to the settings every test
//! needs on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;

use super::{system_binary, udp_raw};

pub(crate) struct Unbound {
    child: Child,
    state: PathBuf,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Unbound {
    /// Unbound on `listen`, its state in `state` (created): `server` is more `server:` lines
    /// (each indented, ending in a newline), `sections` whole sections after it (stub zones).
    pub(crate) fn start(state: &Path, listen: SocketAddr, server: &str, sections: &str) -> Unbound {
        std::fs::create_dir_all(state).expect("Unbound state folder");
        let s = state.display();
        // The lab's TLDs are Unbound's default local zones (RFC 6761), which it would answer
        // itself: `nodefault` lets it ask the hierarchy.
        let conf = format!(
            "server:\n  interface: {ip}\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  \
             chroot: \"\"\n  directory: \"{s}\"\n  pidfile: \"{s}/unbound.pid\"\n  \
             logfile: \"{s}/unbound.log\"\n  use-syslog: no\n  num-threads: 1\n  \
             do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
             local-zone: \"test.\" nodefault\n  discard-timeout: 0\n  qname-minimisation: yes\n\
             {server}{sections}remote-control:\n  control-enable: no\n",
            ip = listen.ip(),
            port = listen.port(),
        );
        let conf_path = state.join("unbound.conf");
        std::fs::write(&conf_path, conf).expect("write unbound.conf");
        let child = Command::new(system_binary(
            "unbound",
            "Unbound (Debian package unbound), a test peer",
        ))
        .args(["-d", "-c"])
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start unbound");
        Unbound {
            child,
            state: state.to_path_buf(),
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("unbound.log")).unwrap_or_default()
    }

    /// Waits until `server` answers `probe` at all, failing with the log if Unbound exits or
    /// stays silent for 20 s.
    pub(crate) async fn wait_ready(&mut self, server: SocketAddr, probe: &Message) {
        let started = Instant::now();
        let probe = probe.to_vec().expect("encode probe");
        while started.elapsed() < Duration::from_secs(20) {
            if let Some(status) = self.child.try_wait().expect("unbound status") {
                panic!("unbound exited ({status}): {}", self.log());
            }
            if udp_raw(server, &probe, Duration::from_millis(200))
                .await
                .is_some()
            {
                return;
            }
        }
        panic!(
            "unbound did not answer on {server} within 20 s: {}",
            self.log()
        );
    }
}
