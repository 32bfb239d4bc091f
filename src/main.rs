//! The `tern` command line: parses arguments, binds sockets, and wires the library together.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use hickory_proto::rr::RecordType;
use tracing_subscriber::EnvFilter;

use tern::LabFiles;
use tern::Metrics;

use tern::Zone;
use tern::{Config, ZoneConfig};
use tern::{ServerSet, TraceSink, parse_root_hints};

#[derive(Parser)]
#[command(
    name = "tern",
    version,
    about = "A recursive, caching DNS resolver with an embedded authoritative server"
)]
struct Cli {
    /// Log level filter (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS on the configured addresses (UDP and TCP).
    Serve(ServeArgs),
    /// Zone file tools.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Start the simulated internet (root, TLD and leaf servers on 127.0.0.x:53, compiled
    /// into tern) and a recursive resolver pointed at its root hints. Needs root for port 53.
    Lab(LabArgs),
    /// Resolve one name iteratively, without a server, and print the answer.
    Resolve(ResolveArgs),
    /// Steer a running `tern serve` over its control socket (`[control] socket`).
    Ctl(CtlArgs),
    /// TSIG key files, for `[[tsig_key]]`, `nsupdate -k` and `knsupdate -k`.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print a new key file in BIND's format (as `tsig-keygen` writes): tern and nsupdate read it.
    Generate {
        /// The key's name, as the zone's `update_keys` lists it.
        name: String,
        /// hmac-sha256, hmac-sha384 or hmac-sha512.
        #[arg(long, short, default_value = "hmac-sha256")]
        algorithm: String,
    },
    /// Print a BIND key file's keys as Knot reads them (`knsupdate -k`): algorithm:name:secret.
    Knot { file: PathBuf },
}

#[derive(Args)]
#[command(after_help = tern::CONTROL_HELP)]
struct CtlArgs {
    /// The control socket of the running server [default: /run/tern/control.sock].
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Read the socket path from this config file's `[control] socket`.
    #[arg(long, value_name = "PATH", conflicts_with = "socket")]
    config: Option<PathBuf>,
    /// With `zones`: the built-in local zones too.
    #[arg(long)]
    all: bool,
    /// The command and its arguments, e.g. `stats` or `flush www.example.org`.
    #[arg(required = true, num_args = 1.., value_name = "COMMAND [ARGS]")]
    command: Vec<String>,
}

#[derive(Args)]
struct ResolveArgs {
    /// The name to resolve.
    name: String,
    /// The record type (A, AAAA, MX, TXT, NS, SOA, SRV, CNAME, ...).
    #[arg(default_value = "A")]
    qtype: String,
    /// Root hints file (named.root format); default: the IANA root hints.
    #[arg(long, value_name = "PATH")]
    root_hints: Option<PathBuf>,
    /// Print every step of the walk: server asked, what it answered, and its RTT.
    #[arg(long)]
    trace: bool,
    /// Start the simulated internet in-process first and resolve through it.
    #[arg(long)]
    lab: bool,
    /// Validate with the DS or DNSKEY records of this file (zone-file form) as trust anchors.
    #[arg(long, value_name = "FILE")]
    trust_anchor: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file; flags below override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to serve on, UDP and TCP (repeatable), e.g. 127.0.0.1:5300.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Zone to serve authoritatively (repeatable), e.g. cluster.test.=zones/cluster.test.zone.
    #[arg(long = "zone", value_name = "ORIGIN=PATH", value_parser = parse_zone_arg)]
    zones: Vec<ZoneConfig>,
    /// Authoritative only: names outside every served zone get REFUSED.
    #[arg(long)]
    no_recursion: bool,
    /// Root hints file for recursion (named.root format); default: the IANA root hints.
    #[arg(long, value_name = "PATH")]
    root_hints: Option<PathBuf>,
    /// DNSSEC trust anchors: a file of DS or DNSKEY records in zone-file form.
    #[arg(long, value_name = "FILE")]
    trust_anchor: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ZoneCommand {
    /// Validate a zone file: prints its record count, or `file:line: reason` for each error.
    Check {
        /// The zone file.
        path: PathBuf,
        /// The zone's origin; defaults to the file's $ORIGIN / SOA owner.
        #[arg(long)]
        origin: Option<String>,
    },
}

#[derive(Args)]
struct LabArgs {
    /// Read the hierarchy from this folder (holding lab.toml) instead of the compiled-in one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Where the lab's recursive resolver listens (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5300", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Where the dashboard (GET /) and the Prometheus metrics (GET /metrics) are served.
    #[arg(long, default_value = "127.0.0.1:9153", value_name = "ADDR:PORT")]
    metrics: SocketAddr,
    /// Serve no dashboard and no metrics.
    #[arg(long)]
    no_metrics: bool,
}

fn parse_zone_arg(s: &str) -> Result<ZoneConfig, String> {
    let (origin, file) = s.split_once('=').ok_or("expected ORIGIN=PATH")?;
    Ok(ZoneConfig {
        origin: origin.to_string(),
        file: PathBuf::from(file),
        ..ZoneConfig::default()
    })
}

/// mimalloc, not glibc's malloc: under a flood of cache misses glibc's heap fragmented between
/// long-lived cache entries and per-query buffers until the resident size was eight times the
/// cache bound (tests/bench/flood.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages for this process. mimalloc asks for them on its arenas
/// (MADV_HUGEPAGE), and a huge page is resident whole once one byte of it is touched, while
/// mimalloc gives freed memory back in 64 KiB ranges: tern idled at 33 MB resident instead of
/// 12, and a burst of garbage left it 6-8 MB larger for good (`tests/bench/garbage.sh`). This is
/// what `MIMALLOC_ALLOW_THP=0` does, which mimalloc reads before `main`, too early to set here.
fn without_huge_pages() -> nix::Result<()> {
    nix::sys::prctl::set_thp_disable(true)
}

fn main() -> ExitCode {
    // First: memory touched before it may still be backed by huge pages.
    let huge_pages = without_huge_pages();
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log_level));
    // Colour codes only for a terminal: a log redirected to a file or a journal stays text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = huge_pages {
        tracing::debug!(error = %e, "transparent huge pages left as the system has them");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tern: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Zone(ZoneCommand::Check { path, origin }) => zone_check(path, origin),
            Command::Lab(args) => run_lab(args).await,
            Command::Resolve(args) => resolve(args).await,
            Command::Ctl(args) => ctl(args),
            Command::Key(KeyCommand::Generate { name, algorithm }) => {
                tern::generate_tsig_key(&name, &algorithm).map(|text| print!("{text}"))
            }
            Command::Key(KeyCommand::Knot { file }) => tern::tsig_knot_lines(&file)
                .map(|text| print!("{text}"))
                .map_err(|e| e.to_string()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn ctl(args: CtlArgs) -> Result<(), String> {
    let socket = match (args.socket, args.config) {
        (Some(socket), _) => socket,
        (None, Some(config)) => Config::from_file(&config)
            .map_err(|e| format!("tern ctl: {e}"))?
            .control
            .socket
            .ok_or_else(|| format!("tern ctl: {} has no `[control] socket`", config.display()))?,
        (None, None) => PathBuf::from(tern::DEFAULT_CONTROL_SOCKET),
    };
    // A flag of tern ctl's, so that it may stand anywhere on the line as flags do; the
    // server reads it as the command's argument (`zones --all`).
    let mut line = args.command.join(" ");
    if args.all {
        line.push_str(" --all");
    }
    let body = tern::control_request(&socket, &line).map_err(|e| format!("tern ctl: {e}"))?;
    // `tern ctl dump-cache | head`: a reader that stops early is not an error (and print!
    // would panic on the broken pipe).
    let mut out = std::io::stdout().lock();
    match out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("tern ctl: writing the answer: {e}"))
        }
        _ => Ok(()),
    }
}

fn zone_check(path: PathBuf, origin: Option<String>) -> Result<(), String> {
    let origin = origin.as_deref().map(tern::parse_origin).transpose()?;
    let zone = Zone::from_file(&path, origin.as_ref()).map_err(|e| e.to_string())?;
    println!(
        "{}: zone {} serial {} is valid: {} records",
        path.display(),
        zone.origin(),
        zone.serial(),
        zone.record_count()
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        config.server.listen = args.listen.clone();
    }
    config.zones.extend(args.zones.iter().cloned());
    config.server.no_recursion |= args.no_recursion;
    if args.root_hints.is_some() {
        config.recursion.root_hints = args.root_hints.clone();
    }
    if args.trust_anchor.is_some() {
        config.dnssec.trust_anchor = args.trust_anchor.clone();
    }
    if config.server.listen.is_empty() {
        config
            .server
            .listen
            .push(SocketAddr::from(([127, 0, 0, 1], 5300)));
    }
    tern::serve(config).await
}

fn lab_files(dir: Option<&std::path::Path>) -> Result<LabFiles, String> {
    match dir {
        Some(dir) => LabFiles::from_dir(dir).map_err(|e| e.to_string()),
        None => Ok(LabFiles::embedded()),
    }
}

fn lab_hints(files: &LabFiles) -> Result<ServerSet, String> {
    let text = files.root_hints().map_err(|e| e.to_string())?;
    parse_root_hints(text, std::path::Path::new("lab/root.hints")).map_err(|e| e.to_string())
}

/// Points `config`'s validation at the lab: the lab's root DS (written to `dir/root.anchor`)
/// when its root is signed, else no validation (the lab's hints are not the IANA root's, so
/// the compiled-in anchors must not apply). Returns the anchor file.
fn lab_dnssec(
    files: &LabFiles,
    dir: &std::path::Path,
    config: &mut Config,
) -> Result<Option<PathBuf>, String> {
    // The hints decide whether the compiled-in root anchors apply; the lab's are custom.
    config.recursion.root_hints = Some(PathBuf::from("lab/root.hints"));
    if config.dnssec.trust_anchor.is_some() {
        return Ok(config.dnssec.trust_anchor.clone());
    }
    let Some(ds) = files.trust_anchor().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("root.anchor");
    std::fs::write(&path, ds).map_err(|e| format!("{}: {e}", path.display()))?;
    config.dnssec.trust_anchor = Some(path.clone());
    Ok(Some(path))
}

async fn run_lab(args: LabArgs) -> Result<(), String> {
    let files = lab_files(args.dir.as_deref())?;
    let (trigger, signal) = tern::shutdown_channel();
    let mut tasks = tern::start_lab(&files, 53, signal.clone())
        .await
        .map_err(|e| e.to_string())?;
    let state = std::env::temp_dir().join(format!("tern-lab-{}", std::process::id()));
    let cluster = tern::start_lab_cluster(53, state.clone(), signal.clone())
        .await
        .map_err(|e| e.to_string())?;
    let mut config = Config::default();
    let anchor = lab_dnssec(&files, &state, &mut config)?;
    // The resolver reaches the discovery server it does not host through a stub zone.
    config.stubs.push(tern::StubConfig {
        zone: "cluster.test.".to_string(),
        servers: vec![cluster.server],
    });
    let metrics = Arc::new(Metrics::default());
    let resolver = tern::build_resolver(&config, lab_hints(&files)?, &metrics, None)?;
    let lab = tern::LabResolver {
        listen: args.listen,
        dashboard: (!args.no_metrics).then_some(args.metrics),
        resolver,
        metrics: Arc::clone(&metrics),
        cluster: &cluster,
    };
    let handler = tern::start_lab_resolver(lab, &signal, &mut tasks).await?;
    let port = args.listen.port();
    let ip = args.listen.ip();
    let tls = tern::start_lab_tls(&handler, ip, &state, &signal, &mut tasks)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(resolver = %args.listen, "simulated internet up (root servers 127.0.0.11, 127.0.0.12); resolver listening");
    println!("tern lab: resolver on {}; try:", args.listen);
    for q in [
        "www.alpha.test A",
        "cname-cross.alpha.test A",
        "www.glueless.test A",
        "big.big.test TXT",
        "nope.alpha.test A",
        // Non-recursive: from the cache once the first line has run, or a referral.
        "+norecurse www.alpha.test A",
        "+norecurse mail.alpha.test A",
        // Iterative: ask a lab server itself.
        "@127.0.0.11 -p 53 +norecurse www.alpha.test A",
    ] {
        match q.strip_prefix('@') {
            Some(direct) => println!("  dig @{direct}"),
            None => println!("  dig @{ip} -p {port} {q}"),
        }
    }
    println!(
        "DNS over TLS on {} and over HTTPS on https://localhost:{}/dns-query, certificate made \
         for this run (CA {}); try:",
        tls.dot,
        tls.doh.port(),
        tls.ca.display()
    );
    for line in tls.tries() {
        println!("  {line}");
    }
    if let Some(anchor) = &anchor {
        println!(
            "DNSSEC: the lab is signed and validated with its root's DS ({}); try:",
            anchor.display()
        );
        for q in [
            "+dnssec www.secure.test A",
            "+dnssec nope.secure.test A",
            "+dnssec www.bogus.test A",
            "+dnssec +cd www.bogus.test A",
            "+dnssec www.insecure.test A",
        ] {
            println!("  dig @{ip} -p {port} {q}");
        }
    }
    for line in cluster.tries(ip, port) {
        println!("{line}");
    }
    if !args.no_metrics {
        println!(
            "dashboard (traffic, the cluster's health, zones, upstreams, last queries): http://{}/",
            args.metrics
        );
    }
    let mut cluster_tasks = cluster.tasks;
    tern::wait_for_signal().await;
    trigger.fire();
    while tasks.join_next().await.is_some() {}
    while cluster_tasks.join_next().await.is_some() {}
    let _ = std::fs::remove_dir_all(&state);
    eprint!("{metrics}");
    Ok(())
}

async fn resolve(args: ResolveArgs) -> Result<(), String> {
    let qname = tern::parse_origin(&args.name)?;
    let qtype: RecordType = args
        .qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|e| format!("bad type {}: {e}", args.qtype))?;
    let (trigger, signal) = tern::shutdown_channel();
    // The lab's servers live as long as this JoinSet; dropping it would abort them.
    let mut _lab = None;
    let mut lab_files_used = None;
    let hints = if args.lab {
        let files = lab_files(None)?;
        _lab = Some(
            tern::start_lab(&files, 53, signal)
                .await
                .map_err(|e| e.to_string())?,
        );
        let hints = lab_hints(&files)?;
        lab_files_used = Some(files);
        hints
    } else {
        tern::load_hints(args.root_hints.as_deref())?
    };
    let trace: Option<TraceSink> = args.trace.then(|| {
        let sink: TraceSink = Arc::new(|step: &tern::TraceStep| println!(";; {step}"));
        sink
    });
    let metrics = Arc::new(Metrics::default());
    let mut config = Config::default();
    config.dnssec.trust_anchor = args.trust_anchor.clone();
    // The hints decide whether the compiled-in root anchors apply.
    config.recursion.root_hints = args.root_hints.clone();
    let anchor_dir = std::env::temp_dir().join(format!("tern-resolve-{}", std::process::id()));
    if let Some(files) = &lab_files_used {
        lab_dnssec(files, &anchor_dir, &mut config)?;
    }
    let resolver = Arc::new(tern::build_resolver(&config, hints, &metrics, trace)?);
    // Edge: the command line is this question's arrival.
    let result = resolver
        .resolve(&qname, qtype, tokio::time::Instant::now())
        .await;
    trigger.fire();
    let _ = std::fs::remove_dir_all(&anchor_dir);
    match result {
        Ok(res) => {
            println!(
                ";; status: {}, upstream queries: {}, dnssec: {}",
                res.rcode,
                res.upstream_queries,
                res.dnssec_state()
            );
            for r in res.answers.iter().chain(&res.authorities) {
                println!("{r}");
            }
            Ok(())
        }
        Err(e) => Err(format!(";; SERVFAIL: {e}")),
    }
}
