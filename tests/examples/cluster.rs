//! tern embedded in a program: a discovery server for `cluster.test.` with one service, whose
//! instances come and go while it runs. `cargo run --example cluster` prints what a client
//! sees at each step, then stops.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tern::embed::{Builder, Instance, Policy, Registration, Service};
use tokio::net::UdpSocket;

const ZONE: &str = "$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
";

/// The SRV answer for `_web._tcp.cluster.test.`, one line per record.
async fn srv(server: SocketAddr) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut query = Message::new(7, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(
        Name::from_ascii("_web._tcp.cluster.test.")?,
        RecordType::SRV,
    ));
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    sock.send_to(&query.to_vec()?, server).await?;
    let mut buf = [0u8; 1232];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await??;
    let reply = Message::from_vec(&buf[..len])?;
    Ok(reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(format!(
                "{} {} {} {}",
                s.priority, s.weight, s.port, s.target
            )),
            _ => None,
        })
        .collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let web = Registration::new(Service::new("cluster.test.", "web")?)
        .balance(Policy::Weighted)
        .instance(Instance::new("web-1", local, 8080), None);
    let running = Builder::new()
        .listen("127.0.0.1:0".parse()?)
        .zone_text("cluster.test.", ZONE)
        .service(web)
        .start()
        .await?;
    let server = running.addr();
    println!("discovery server on {server}");
    println!("one instance:        {:?}", srv(server).await?);

    running.add_instance(
        "web.cluster.test.",
        Instance {
            weight: 3,
            ..Instance::new("web-2", local, 8081)
        },
        None,
    )?;
    println!("web-2 registered:    {:?}", srv(server).await?);

    running.set_healthy("web.cluster.test.", "web-1", false)?;
    println!("web-1 marked down:   {:?}", srv(server).await?);

    running.remove_instance("web.cluster.test.", "web-2")?;
    println!(
        "web-2 deregistered:  {:?} (web-1 is down: fail open)",
        srv(server).await?
    );

    running.shutdown().await;
    println!("stopped");
    Ok(())
}
