//! Every environment variable ccops itself reads, in one place. Ops never read the
//! environment: `config::Settings` resolves these once and hands the values on.

/// Path of the config file when `--config` is not given.
pub const CCOPS_CONFIG: &str = "CCOPS_CONFIG";
/// Force a Compose implementation: `docker compose` (v2) or `docker-compose` (v1).
/// Default: v2 when the Compose CLI plugin is in a folder the Docker CLI searches (and
/// the CLI is on PATH), or else when `docker compose version` answers; else v1.
pub const CCOPS_COMPOSE: &str = "CCOPS_COMPOSE";
/// Docker CLI used to run `docker compose` (default: `docker` on PATH).
pub const CCOPS_DOCKER: &str = "CCOPS_DOCKER";
/// How volumes are read for a backup: `auto` (default: straight from the volume's folder
/// where ccops may, else through the engine's archive API) or `engine` (always the API).
pub const CCOPS_VOLUME_READ: &str = "CCOPS_VOLUME_READ";
/// Set to any value to disable colours (https://no-color.org).
pub const NO_COLOR: &str = "NO_COLOR";
/// Docker daemon address, as the Docker CLI reads it (over `docker_host`'s absence).
pub const DOCKER_HOST: &str = "DOCKER_HOST";
/// The Docker context to use when neither `docker_host` nor DOCKER_HOST is set (else the
/// `currentContext` of the Docker CLI's config.json).
pub const DOCKER_CONTEXT: &str = "DOCKER_CONTEXT";
/// Set (any value): a `tcp://` engine is reached over TLS, as the Docker CLI does.
pub const DOCKER_TLS_VERIFY: &str = "DOCKER_TLS_VERIFY";
/// The folder of ca.pem, cert.pem and key.pem for TLS (default: the Docker CLI's config folder).
pub const DOCKER_CERT_PATH: &str = "DOCKER_CERT_PATH";
/// Compose project name when the config names none.
pub const COMPOSE_PROJECT_NAME: &str = "COMPOSE_PROJECT_NAME";
/// Where the Docker CLI keeps its config, and so the user's `cli-plugins` folder.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// The user's home folder (`~/.docker/cli-plugins` when DOCKER_CONFIG is unset).
pub const HOME: &str = "HOME";
/// Where the Docker CLI is looked for.
pub const PATH: &str = "PATH";
/// For tests only: the name of a point in a restore (e.g. `volume-moved-aside`) where
/// ccops kills itself with SIGKILL, to prove the next run puts a killed restore right.
pub const CCOPS_FAILPOINT: &str = "CCOPS_FAILPOINT";
