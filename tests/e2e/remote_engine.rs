//! Remote engines: ccops driving the rig's engine through the rig's real sshd (scripts/rig
//! runs one on 127.0.0.1 with a user `ccops-remote` in group docker and writes its key and
//! known_hosts line) as `ssh://`, the way an operator drives a server from a laptop or CI.
//! The ssh client is the system's OpenSSH; each test gives it its own config file.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::backup::{complete_sets, destroy, entries, fingerprint, is_running, seed};
use crate::stack::{Flavour, Stack};
use crate::support::{Dir, Run};

fn rig_ssh() -> PathBuf {
    PathBuf::from(std::env::var("CCOPS_RIG_HOME").unwrap_or_else(|_| "/opt/ccops-rig".into())).join("ssh")
}

fn rig_ssh_port() -> u16 {
    std::env::var("CCOPS_RIG_SSH_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(2222)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real `ssh` on PATH.
fn system_ssh() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("ssh")).find(|p| p.is_file()).expect("the OpenSSH client (ssh)")
}

/// An ssh client set up as an operator's: the rig's key and a known_hosts file. OpenSSH
/// reads `~/.ssh/config` from the passwd entry's home, not $HOME, so the config is handed
/// to it by a one-line `ssh` on PATH that adds `-F`; ccops and Compose both run that.
struct SshClient {
    dir: Dir,
}

impl SshClient {
    /// `host_key`: the known_hosts key for every host (`None`: the rig's real one).
    fn new(host_key: Option<&str>) -> SshClient {
        let dir = Dir::new();
        let rig = rig_ssh();
        let key = std::fs::read_to_string(rig.join("id_ed25519")).expect("the rig's ssh key: run scripts/rig");
        dir.write("id_ed25519", &key);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("id_ed25519"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let real = std::fs::read_to_string(rig.join("host_ed25519_key.pub")).unwrap();
        let real: Vec<&str> = real.split_whitespace().take(2).collect();
        // One line for any host: the proxied port of the drop test is the same server.
        dir.write("known_hosts", &format!("* {}\n", host_key.unwrap_or(&real.join(" "))));
        let d = dir.path().display();
        dir.write(
            "config",
            &format!(
                "Host *\n  IdentityFile {d}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
            ),
        );
        dir.write("bin/ssh", &format!("#!/bin/sh\nexec '{}' -F '{d}/config' \"$@\"\n", system_ssh().display()));
        std::fs::set_permissions(dir.join("bin/ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        SshClient { dir }
    }

    fn path_var(&self) -> String {
        format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default())
    }
}

/// Add an environment `remote` to the stack's ccops.yaml: production's files, this engine.
fn remote_env(s: &Stack, docker_host: &str) {
    s.edit(
        "ccops.yaml",
        "environments:\n",
        &format!(
            "environments:\n  remote:\n    compose_files: [docker-compose.yml, docker-compose.prod.yml]\n    env_file: .env\n    version_variable: APP_VERSION\n    docker_host: {docker_host}\n"
        ),
    );
}

fn rig_host() -> String {
    format!("ssh://ccops-remote@127.0.0.1:{}", rig_ssh_port())
}

fn over(s: &Stack, ssh: &SshClient, args: &[&str]) -> Run {
    s.ccops_env(args, &[("PATH", &ssh.path_var())])
}

#[test]
fn backup_restore_health_and_deploy_through_ssh() {
    let s = Stack::up("sshround", Flavour::V2);
    let ssh = SshClient::new(None);
    remote_env(&s, &rig_host());
    seed(&s);
    let before = fingerprint(&s);

    over(&s, &ssh, &["-e", "remote", "health", "--wait", "--timeout", "120s"]).code(0);
    // The engine on the other side of ssh: volumes stream through a helper container,
    // never read from a folder of this machine.
    let r = over(&s, &ssh, &["-v", "-e", "remote", "backup"]);
    r.code(0).stderr_has("complete").stderr_has("is read through the engine");
    let sets = complete_sets(&s);
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(
        entries(&s.path().join("backups").join(&sets[0])),
        ["manifest.json", "postgres-postgres-commandcenter.dump", "redis-redis.rdb.gz", "volume-rag_storage.tar.gz"]
    );

    destroy(&s);
    assert_ne!(fingerprint(&s), before);
    over(&s, &ssh, &["-e", "remote", "restore", "latest", "--yes"]).code(0).stderr_has("restored backup");
    assert_eq!(fingerprint(&s), before, "restored data differs");

    // A deploy through it: the image built and the containers replaced by the remote engine.
    let r = over(&s, &ssh, &["deploy", "remote", "v1.1.0"]);
    r.code(0).stderr_has("deployed v1.1.0");
    let (code, body) = s.proxy_http("/health");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("v1.1.0"), "{body}");

    // A Docker context names the same engine when neither `docker_host` nor DOCKER_HOST does.
    let cfg = Dir::new();
    let id = sha256_hex("rig-over-ssh");
    cfg.write(
        &format!("contexts/meta/{id}/meta.json"),
        &format!(r#"{{"Name":"rig-over-ssh","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#, rig_host()),
    );
    cfg.write("config.json", r#"{"currentContext":"rig-over-ssh"}"#);
    let docker_config = cfg.path().display().to_string();
    let r = s.ccops_env(
        &["-v", "backup", "--only", "rag_storage", "--no-prune"],
        &[("PATH", &ssh.path_var()), ("DOCKER_CONFIG", &docker_config), ("DOCKER_HOST", "")],
    );
    r.code(0).stderr_has("is read through the engine");
    // Not a context that is gone: named, and how to see the others.
    s.ccops_env(&["backup"], &[("DOCKER_CONFIG", &docker_config), ("DOCKER_CONTEXT", "gone"), ("DOCKER_HOST", "")])
        .code(1)
        .stderr_has("Docker context `gone` (from DOCKER_CONTEXT)")
        .stderr_has("docker context ls");
}

fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
fn ssh_failures_are_named_and_change_nothing() {
    let s = Stack::new("sshfail", Flavour::V2);
    let backups = s.path().join("backups");

    // A host key that is not the server's: ssh refuses, ccops says what to check.
    let other = Dir::new();
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(other.join("k"))
        .status()
        .unwrap();
    assert!(keygen.success());
    let pubkey = std::fs::read_to_string(other.join("k.pub")).unwrap();
    let wrong = pubkey.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    remote_env(&s, &rig_host());
    let r = over(&s, &SshClient::new(Some(&wrong)), &["-e", "remote", "backup"]);
    r.code(1).stderr_has("Host key verification failed").stderr_has("known_hosts").stderr_has("never accepts");
    assert!(entries(&backups).is_empty(), "{:?}", entries(&backups));

    // Nothing listens on the port.
    let closed = free_port();
    s.edit("ccops.yaml", &rig_host(), &format!("ssh://ccops-remote@127.0.0.1:{closed}"));
    let ssh = SshClient::new(None);
    // health still runs its HTTP checks from here; the engine row says why it failed.
    over(&s, &ssh, &["-e", "remote", "health"])
        .code(1)
        .stdout_has("Connection refused")
        .stdout_has(&format!("nothing accepts ssh connections at `127.0.0.1:{closed}`"));

    // A user the server does not know by this key.
    s.edit(
        "ccops.yaml",
        &format!("ssh://ccops-remote@127.0.0.1:{closed}"),
        &format!("ssh://nobody@127.0.0.1:{}", rig_ssh_port()),
    );
    over(&s, &ssh, &["-e", "remote", "backup"])
        .code(1)
        .stderr_has("Permission denied (publickey)")
        .stderr_has("ssh-agent");
    assert!(entries(&backups).is_empty(), "{:?}", entries(&backups));
}

/// A TCP relay in front of the rig's sshd. While `armed`, it cuts the first connection
/// to carry more than `after` bytes towards the client (a link dropped mid-transfer);
/// while `down`, it closes every new connection at once (the link has not come back).
struct Relay {
    port: u16,
    armed: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
    /// Set `down` at the cut, not only later: the link stays gone.
    stays_down: Arc<AtomicBool>,
}

impl Relay {
    fn start(after: u64) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = Relay {
            port,
            armed: Arc::new(AtomicBool::new(true)),
            down: Arc::new(AtomicBool::new(false)),
            stays_down: Arc::new(AtomicBool::new(false)),
        };
        let (armed, down, stays_down) = (relay.armed.clone(), relay.down.clone(), relay.stays_down.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if down.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", rig_ssh_port())) else { continue };
                let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut s_out);
                    let _ = s_out.shutdown(Shutdown::Write);
                });
                let (armed, down, stays_down) = (armed.clone(), down.clone(), stays_down.clone());
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let mut sent = 0u64;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                        if sent > after && armed.swap(false, Ordering::SeqCst) {
                            down.store(stays_down.load(Ordering::SeqCst), Ordering::SeqCst);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        relay
    }

    fn has_cut(&self) -> bool {
        !self.armed.load(Ordering::SeqCst)
    }
}

#[test]
fn a_link_dropped_mid_backup_keeps_nothing_and_starts_the_services_again() {
    let s = Stack::up("sshdrop", Flavour::V2);
    seed(&s);
    // 120 MiB that does not compress: the volume stream is the one transfer that big.
    s.exec("backend", &["sh", "-c", "head -c 125829120 /dev/urandom > /app/storage/big.bin"]);
    let relay = Relay::start(32 * 1024 * 1024);
    remote_env(&s, &format!("ssh://ccops-remote@127.0.0.1:{}", relay.port));
    let ssh = SshClient::new(None);

    let r = over(&s, &ssh, &["-e", "remote", "backup"]);
    assert!(relay.has_cut(), "the relay never cut the link:\n{}", r.stderr);
    // The cause in ssh's words ("Connection to 127.0.0.1 closed by remote host.").
    r.code(1)
        .stderr_has("reading volume")
        .stderr_has("rag_storage")
        .stderr_has("; ssh: ")
        .stderr_has("nothing was kept");
    assert!(complete_sets(&s).is_empty(), "{:?}", complete_sets(&s));
    let left = entries(&s.path().join("backups"));
    assert!(!left.iter().any(|e| e.ends_with(".partial")), "{left:?}");
    assert!(is_running(&s, "backend") && is_running(&s, "worker"), "services left stopped:\n{}", r.stderr);

    // The link stays down after the cut: the services cannot be started from here, and
    // the error names each one and the command that starts them on that engine.
    relay.stays_down.store(true, Ordering::SeqCst);
    relay.armed.store(true, Ordering::SeqCst);
    let r = over(&s, &ssh, &["-e", "remote", "backup"]);
    assert!(relay.has_cut(), "the relay never cut the link:\n{}", r.stderr);
    r.code(1)
        .stderr_has("nothing was kept")
        .stderr_has("could not start again")
        .stderr_has(&format!("`docker -H ssh://ccops-remote@127.0.0.1:{} start ", relay.port));
    // A start sent over a connection opened before the cut still gets through.
    let stopped: Vec<&str> = ["backend", "worker"].into_iter().filter(|svc| !is_running(&s, svc)).collect();
    assert!(!stopped.is_empty(), "nothing was left stopped:\n{}", r.stderr);
    // Named in the command that starts it (by its number and service: the project name
    // itself may be masked, as a long name with digits reads like a credential).
    for svc in &stopped {
        r.stderr_has(&format!("-{svc}-1`)"));
    }
    assert!(complete_sets(&s).is_empty(), "{:?}", complete_sets(&s));
    // Back: the next run starts what the last one left stopped, then does its own work.
    relay.down.store(false, Ordering::SeqCst);
    over(&s, &ssh, &["-e", "remote", "backup", "--no-prune"]).code(0).stderr_has("did not start it again");
    assert!(is_running(&s, "backend") && is_running(&s, "worker"));
    assert_eq!(complete_sets(&s).len(), 1);
}

/// Certificates as `dockerd --tlsverify` expects them: a CA, the engine's certificate for
/// 127.0.0.1 and a client certificate, all signed by that CA.
struct Certs {
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    server: (String, String),
    client: (String, String),
}

impl Certs {
    fn new() -> Certs {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.extended_key_usages = vec![usage];
            (p.signed_by(&key, &ca).unwrap().pem(), key.serialize_pem())
        };
        let server = leaf(vec!["127.0.0.1".into(), "localhost".into()], ExtendedKeyUsagePurpose::ServerAuth);
        let client = leaf(vec!["ccops".into()], ExtendedKeyUsagePurpose::ClientAuth);
        Certs { ca, server, client }
    }

    /// ca.pem, cert.pem and key.pem of the client, as DOCKER_CERT_PATH holds them.
    fn client_folder(&self) -> Dir {
        let d = Dir::new();
        d.write("ca.pem", &self.ca.pem()).write("cert.pem", &self.client.0).write("key.pem", &self.client.1);
        d
    }
}

/// The rig's engine behind a TLS listener that demands a client certificate of `certs`'
/// CA, as `dockerd --tlsverify -H tcp://...:2376` does. The shared dockerd may not be
/// restarted to add a listener, so this terminator stands in front of its socket.
fn tls_engine(certs: &Certs) -> u16 {
    use tokio_rustls::rustls::{self, pki_types};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs.ca.der().clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    use pki_types::pem::PemObject;
    let chain = vec![pki_types::CertificateDer::from_pem_slice(certs.server.0.as_bytes()).unwrap()];
    let key = pki_types::PrivateKeyDer::from_pem_slice(certs.server.1.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    crate::support::tls_listener(config, |mut tls| async move {
        let Ok(mut engine) = tokio::net::UnixStream::connect("/var/run/docker.sock").await else { return };
        let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
    })
}

#[test]
fn tls_tcp_engines_with_the_docker_cli_variables() {
    let certs = Certs::new();
    let port = tls_engine(&certs);
    let d = Dir::new();
    let project = format!("cctlsengine{}", std::process::id());
    d.write(
        "docker-compose.yml",
        "services:\n  idle:\n    image: ccops-test/base:latest\n    command: sleep infinity\n    volumes: [data:/data]\nvolumes:\n  data: {}\n",
    );
    d.write(
        "ccops.yaml",
        &format!(
            "project: {project}\nenvironments:\n  tls:\n    docker_host: tcp://127.0.0.1:{port}\nbackup:\n  directory: backups\n  volumes:\n    - name: data\n"
        ),
    );
    let _down = crate::backup::Down(d.path().to_path_buf(), project.clone());
    let certs_dir = certs.client_folder();
    let cert_path = certs_dir.path().display().to_string();
    let tls = [("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", cert_path.as_str()), ("DOCKER_HOST", "")];

    // Compose gets the same engine and TLS files: `up` goes through the TLS listener too.
    let up = std::process::Command::new("docker")
        .args(["compose", "-p", &project, "up", "-d"])
        .current_dir(d.path())
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &cert_path)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let r = d.run_env(&["-v", "-e", "tls", "backup"], &tls);
    r.code(0).stderr_has("is read through the engine").stderr_has("complete");
    d.run_env(&["-e", "tls", "health"], &tls).code(0);

    // Without the variables, plain HTTP to a TLS port: refused with the engine named.
    d.run_env(&["-e", "tls", "backup"], &[("DOCKER_HOST", "")])
        .code(1)
        .stderr_has(&format!("the Docker engine at `tcp://127.0.0.1:{port}` is not reachable"));
    // A CA that did not sign the engine's certificate.
    let strangers = Certs::new().client_folder();
    let strangers = strangers.path().display().to_string();
    d.run_env(
        &["-e", "tls", "backup"],
        &[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", strangers.as_str()), ("DOCKER_HOST", "")],
    )
    .code(1)
    .stderr_has("not reachable")
    .stderr_has("certificate");
    // A folder without the files.
    let empty = Dir::new();
    let empty = empty.path().display().to_string();
    d.run_env(&["-e", "tls", "backup"], &[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", empty.as_str())])
        .code(1)
        .stderr_has("ca.pem`, which does not exist")
        .stderr_has("DOCKER_CERT_PATH");
}
