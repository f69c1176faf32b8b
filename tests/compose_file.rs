//! The Docker Compose deployment (`docker-compose.yml`, `Dockerfile`, `deploy/`).
//!
//! No Docker engine runs here, so the file is checked without one: against the
//! Compose specification's JSON schema (`tests/fixtures/compose-spec.json`), and
//! against this project: the real binary runs `config check` on `deploy/bridge.toml`
//! with exactly the environment, secrets and files compose gives the bridges, the
//! Synapse configs must carry what `homeserver-config` prints, every mounted file must
//! exist, the public URLs must lead to the right containers, Keycloak's realm must
//! know the bridge's clients, and the Dockerfile must copy what the build reads.
//! Reading the compose file is `tests/compose/validate.py`, run with
//! `.peers/venv/bin/python` (scripts/setup.sh; Synapse brings PyYAML and jsonschema):
//! built with `--features peers` (`scripts/test.sh`).
#![cfg(feature = "peers")]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let python = repo().join(".peers/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (its Synapse brings PyYAML and jsonschema)",
        python.display()
    );
    python
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `tests/compose/validate.py ARGS…`, with `stdin` if given.
fn helper(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(python())
        .arg(repo().join("tests/compose/validate.py"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run the venv's python");
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("cannot write to validate.py");
    drop(input);
    child
        .wait_with_output()
        .expect("validate.py did not finish")
}

/// Runs the helper and parses its JSON answer; any failure names what was asked.
fn helper_json(args: &[&str], stdin: Option<&str>) -> Value {
    let out = helper(args, stdin);
    assert!(
        out.status.success(),
        "validate.py {args:?} failed:\n{}",
        output_text(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("validate.py {args:?} printed no JSON ({e})"))
}

fn schema_check(compose: &Path) -> Output {
    let schema = repo().join("tests/fixtures/compose-spec.json");
    helper(
        &[
            "schema",
            schema.to_str().expect("UTF-8 path"),
            compose.to_str().expect("UTF-8 path"),
        ],
        None,
    )
}

/// docker-compose.yml as `docker compose` would read it (see validate.py `model`).
#[derive(Debug, Deserialize)]
struct Model {
    services: BTreeMap<String, Service>,
    volumes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Service {
    image: Option<String>,
    build: Option<Build>,
    command: Option<Vec<String>>,
    environment: BTreeMap<String, String>,
    mounts: Vec<Mount>,
    depends_on: BTreeMap<String, Value>,
    aliases: Vec<String>,
    addresses: Vec<String>,
    ports: Vec<Port>,
}

#[derive(Debug, Deserialize)]
struct Build {
    context: String,
    dockerfile: String,
}

#[derive(Debug, Deserialize)]
struct Mount {
    kind: String,
    source: Option<String>,
    target: String,
}

#[derive(Debug, Deserialize)]
struct Port {
    published: String,
    target: String,
}

fn model() -> Model {
    let compose = repo().join("docker-compose.yml");
    let value = helper_json(&["model", compose.to_str().expect("UTF-8 path")], None);
    serde_json::from_value(value).expect("validate.py model has the expected shape")
}

impl Service {
    /// The host file or directory mounted at `target` in this container.
    fn source_of(&self, target: &str) -> Option<&str> {
        self.mounts
            .iter()
            .find(|m| m.target == target)
            .and_then(|m| m.source.as_deref())
    }
}

/// The services built from this repository's Dockerfile: the bridge instances.
fn bridges(model: &Model) -> Vec<(&String, &Service)> {
    let dockerfile = repo().join("Dockerfile");
    model
        .services
        .iter()
        .filter(|(_, s)| {
            s.build
                .as_ref()
                .is_some_and(|b| Path::new(&b.dockerfile) == dockerfile)
        })
        .collect()
}

/// The arguments a bridge container runs with: compose's `command`, or the image's CMD.
fn bridge_arguments(service: &Service) -> Vec<String> {
    if let Some(command) = &service.command {
        return command.clone();
    }
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let cmd = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("CMD "))
        .expect("the Dockerfile has a CMD line");
    serde_json::from_str(cmd).expect("the Dockerfile's CMD is in exec (JSON) form")
}

/// The config path inside a bridge container (`--config`).
fn config_path_in_container(service: &Service) -> String {
    let args = bridge_arguments(service);
    let at = args
        .iter()
        .position(|a| a == "--config" || a == "-c")
        .unwrap_or_else(|| panic!("the bridge runs {args:?}, without --config"));
    args.get(at + 1).expect("a path after --config").clone()
}

/// Every string in the config that names a path inside the container gets the host
/// path compose mounts there. A path nothing is mounted at stays as it is.
fn localize(value: &mut toml::Value, mounts: &[(String, String)]) {
    match value {
        toml::Value::String(s) => {
            for (target, source) in mounts {
                if let Some(rest) = s.strip_prefix(target.as_str())
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    *s = format!("{source}{rest}");
                    return;
                }
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| localize(v, mounts)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| localize(v, mounts)),
        _ => {}
    }
}

/// Absolute paths in the config that do not exist on the host after `localize`.
fn missing_paths(value: &toml::Value, key: &str, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) if s.starts_with('/') && !Path::new(s).exists() => {
            out.push(format!("`{key}` = {s:?}"));
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                missing_paths(v, &format!("{key}[{i}]"), out);
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                missing_paths(v, &key, out);
            }
        }
        _ => {}
    }
}

/// A bridge's config as its container sees it, rewritten to host paths in a
/// temporary directory, and the environment compose gives it.
struct BridgeConfig {
    _dir: tempfile::TempDir,
    path: PathBuf,
    env: BTreeMap<String, String>,
    /// The config as written (deploy/bridge.toml), for the other checks.
    raw: toml::Table,
}

fn bridge_config(name: &str, service: &Service) -> BridgeConfig {
    let in_container = config_path_in_container(service);
    let source = service.source_of(&in_container).unwrap_or_else(|| {
        panic!("{name} runs with --config {in_container}, but compose mounts no file there")
    });
    assert_eq!(
        Path::new(source),
        repo().join("deploy/bridge.toml"),
        "{name} reads its config from {source}; the deployment's config is deploy/bridge.toml"
    );
    let text = std::fs::read_to_string(source).expect("the mounted config is readable");
    let raw: toml::Table = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("deploy/bridge.toml is not valid TOML: {e}"));
    let mut mounts: Vec<(String, String)> = service
        .mounts
        .iter()
        .filter_map(|m| Some((m.target.clone(), m.source.clone()?)))
        .collect();
    // The most specific mount wins, as in the container.
    mounts.sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
    let mut config = toml::Value::Table(raw.clone());
    localize(&mut config, &mounts);
    let mut missing = Vec::new();
    missing_paths(&config, "", &mut missing);
    assert!(
        missing.is_empty(),
        "deploy/bridge.toml names paths that compose mounts nothing at in {name}:\n  {}",
        missing.join("\n  ")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml::to_string(&config).expect("TOML serializes")).expect("write");
    BridgeConfig {
        _dir: dir,
        path,
        env: service.environment.clone(),
        raw,
    }
}

/// The binary, with exactly the environment compose gives the container.
fn run_bridge(config: &BridgeConfig, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
        .env_clear()
        .envs(&config.env)
        .args(args)
        .arg("--config")
        .arg(&config.path)
        .output()
        .expect("the sso-bridge binary runs")
}

fn first_bridge_config(model: &Model) -> BridgeConfig {
    let (name, service) = *bridges(model)
        .first()
        .expect("docker-compose.yml has a service built from the Dockerfile");
    bridge_config(name, service)
}

fn str_at<'a>(value: &'a toml::Value, path: &[&str]) -> &'a str {
    let mut v = value;
    for key in path {
        v = v
            .get(key)
            .unwrap_or_else(|| panic!("deploy/bridge.toml has no `{}`", path.join(".")));
    }
    v.as_str()
        .unwrap_or_else(|| panic!("`{}` is not a string", path.join(".")))
}

fn departments(raw: &toml::Table) -> Vec<&toml::Value> {
    raw.get("departments")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn upstreams(raw: &toml::Table) -> Vec<&toml::Value> {
    raw.get("upstreams")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn yaml_file(path: &str) -> Value {
    helper_json(&["yaml", path], None)
}

// (a) The Compose specification.

#[test]
fn compose_file_is_valid_against_the_compose_specification() {
    let out = schema_check(&repo().join("docker-compose.yml"));
    assert!(
        out.status.success(),
        "docker-compose.yml does not follow the Compose specification:\n{}",
        output_text(&out)
    );
}

#[test]
fn the_schema_check_refuses_what_compose_would_refuse() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/compose-spec.json"))
            .expect("the vendored schema"),
    )
    .expect("the vendored schema is JSON");
    assert_eq!(schema["title"], "Compose Specification");

    let dir = tempfile::tempdir().expect("temp dir");
    let check = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        schema_check(&path)
    };
    let good = "services:\n  web:\n    image: nginx\n    environment:\n      A: b\n";
    let out = check("good.yml", good);
    assert!(
        out.status.success(),
        "a minimal valid file is refused, so the check proves nothing:\n{}",
        output_text(&out)
    );
    for (name, text, expected) in [
        (
            "top-level.yml",
            "servics:\n  web:\n    image: nginx\n",
            "'servics'",
        ),
        (
            "service-key.yml",
            "services:\n  web:\n    image: nginx\n    enviroment:\n      A: b\n",
            "'enviroment'",
        ),
        (
            "condition.yml",
            "services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_happy\n  db:\n    image: postgres\n",
            "'service_happy'",
        ),
        (
            "type.yml",
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5\n",
            "$.services.web.healthcheck.interval",
        ),
        (
            "variable.yml",
            "services:\n  web:\n    image: nginx:${TAG}\n",
            "has no default",
        ),
    ] {
        let out = check(name, text);
        let text = output_text(&out);
        assert!(!out.status.success(), "{name} was accepted:\n{text}");
        assert!(
            text.contains(expected),
            "{name}: the errors do not name {expected}:\n{text}"
        );
    }
}

// (b) The bridges' config, with what compose gives them.

#[test]
fn bridges_pass_config_check_with_what_compose_gives_them() {
    let model = model();
    let bridges = bridges(&model);
    assert!(
        bridges.len() >= 2,
        "the deployment runs two bridge instances; found {:?}",
        bridges.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (name, service) in bridges {
        let config = bridge_config(name, service);
        let out = run_bridge(&config, &["config", "check"]);
        assert!(
            out.status.success(),
            "`sso-bridge config check` fails for {name} with the environment, secrets and files \
             docker-compose.yml gives it (deploy/bridge.toml and the compose file drifted apart; \
             line numbers are those of a copy with host paths):\n{}",
            output_text(&out)
        );
        for dependency in ["postgres", "redis"] {
            assert!(
                service.depends_on.contains_key(dependency),
                "{name} does not depend on {dependency}"
            );
        }
    }
    let config = first_bridge_config(&model);
    let database_url = config.raw["database_url"].as_str().unwrap_or_default();
    assert!(
        database_url.starts_with("postgres://") && database_url.contains("@postgres"),
        "two instances need the shared PostgreSQL service, not {database_url:?}"
    );
    assert!(
        config
            .raw
            .get("introspection")
            .and_then(|i| i.get("redis_url"))
            .is_some(),
        "the instances share token answers through Redis: set [introspection] redis_url"
    );
}

// (c) The departments' Synapses carry what `homeserver-config` prints.

#[test]
fn synapse_configs_are_what_homeserver_config_prints() {
    let model = model();
    let config = first_bridge_config(&model);
    let departments = departments(&config.raw);
    assert!(
        !departments.is_empty(),
        "deploy/bridge.toml has no department"
    );
    for department in &departments {
        let id = str_at(department, &["id"]);
        let service_name = format!("synapse-{id}");
        let service = model.services.get(&service_name).unwrap_or_else(|| {
            panic!(
                "department {id:?} has no homeserver in docker-compose.yml (service {service_name})"
            )
        });
        let config_path = service
            .environment
            .get("SYNAPSE_CONFIG_PATH")
            .unwrap_or_else(|| panic!("{service_name} does not set SYNAPSE_CONFIG_PATH"));
        let homeserver_yaml = service.source_of(config_path).unwrap_or_else(|| {
            panic!("{service_name} reads {config_path}, but compose mounts no file there")
        });

        let out = run_bridge(&config, &["homeserver-config", id]);
        assert!(
            out.status.success(),
            "homeserver-config {id}:\n{}",
            output_text(&out)
        );
        let printed = helper_json(&["yaml", "-"], Some(&String::from_utf8_lossy(&out.stdout)));
        let mounted = yaml_file(homeserver_yaml);
        for key in ["oidc_providers", "sso"] {
            assert_eq!(
                mounted[key], printed[key],
                "`{key}` in {homeserver_yaml} differs from what \
                 `sso-bridge homeserver-config --config deploy/bridge.toml {id}` prints; \
                 paste its output into the file (mounted: left, printed: right)"
            );
        }
        assert_eq!(
            mounted["public_baseurl"].as_str(),
            Some(str_at(department, &["homeserver", "base_url"])),
            "{homeserver_yaml}: public_baseurl differs from departments.homeserver.base_url of {id:?}"
        );
        assert_eq!(
            mounted["server_name"].as_str(),
            Some(str_at(department, &["homeserver", "server_name"])),
            "{homeserver_yaml}: server_name differs from departments.homeserver.server_name of {id:?}"
        );
        // And Synapse itself accepts the whole file.
        let out = helper(&["synapse", homeserver_yaml], None);
        assert!(
            out.status.success(),
            "Synapse refuses {homeserver_yaml}:\n{}",
            output_text(&out)
        );
    }
    let ids: Vec<&str> = departments.iter().map(|d| str_at(d, &["id"])).collect();
    for name in model.services.keys() {
        if let Some(id) = name.strip_prefix("synapse-") {
            assert!(
                ids.contains(&id),
                "service {name} has no department {id:?} in deploy/bridge.toml"
            );
        }
    }
}

// (d) Every file compose mounts or builds from is in the repository.

#[test]
fn everything_compose_mounts_exists() {
    let model = model();
    let mut problems = Vec::new();
    for (name, service) in &model.services {
        if service.image.is_none() && service.build.is_none() {
            problems.push(format!("{name}: neither image nor build"));
        }
        if let Some(build) = &service.build {
            for path in [&build.context, &build.dockerfile] {
                if !Path::new(path).exists() {
                    problems.push(format!("{name}: build needs {path}, which does not exist"));
                }
            }
        }
        for mount in &service.mounts {
            match (mount.kind.as_str(), &mount.source) {
                ("volume", Some(volume)) if !model.volumes.contains(volume) => problems.push(
                    format!("{name}: volume {volume:?} is not declared under top-level `volumes`"),
                ),
                ("volume" | "anonymous" | "tmpfs", _) => {}
                (kind, Some(source)) if !Path::new(source).exists() => problems.push(format!(
                    "{name}: {kind} mounted at {} comes from {source}, which does not exist",
                    mount.target
                )),
                (kind, None) => problems.push(format!(
                    "{name}: {kind} mounted at {} is not a file in the repository",
                    mount.target
                )),
                _ => {}
            }
        }
        for dependency in service.depends_on.keys() {
            if !model.services.contains_key(dependency) {
                problems.push(format!("{name}: depends on unknown service {dependency:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docker-compose.yml refers to what is not there:\n  {}",
        problems.join("\n  ")
    );
}

// The public URL scheme: one name, campus.localhost, for the browser and the containers.

#[test]
fn public_urls_lead_through_the_load_balancer() {
    let model = model();
    let config = first_bridge_config(&model);
    let raw = toml::Value::Table(config.raw.clone());
    let mut urls = vec![(
        "public_base_url".to_owned(),
        str_at(&raw, &["public_base_url"]).to_owned(),
    )];
    for (i, upstream) in upstreams(&config.raw).into_iter().enumerate() {
        for key in ["issuer", "metadata_url"] {
            if let Some(url) = upstream.get(key).and_then(toml::Value::as_str) {
                urls.push((format!("upstreams[{i}].{key}"), url.to_owned()));
            }
        }
    }
    for (i, department) in departments(&config.raw).into_iter().enumerate() {
        urls.push((
            format!("departments[{i}].homeserver.base_url"),
            str_at(department, &["homeserver", "base_url"]).to_owned(),
        ));
    }
    let lb_conf = std::fs::read_to_string(repo().join("deploy/nginx/lb.conf")).expect("lb.conf");
    for (key, url) in urls {
        let parsed = url::Url::parse(&url).unwrap_or_else(|e| panic!("`{key}`: {url:?}: {e}"));
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed
            .port_or_known_default()
            .expect("http URLs have a port")
            .to_string();
        assert!(
            host.ends_with(".localhost"),
            "`{key}` = {url}: a browser on the host resolves only *.localhost to the published ports"
        );
        let (front, service) = model
            .services
            .iter()
            .find(|(_, s)| s.aliases.iter().any(|a| a == host))
            .unwrap_or_else(|| {
                panic!("`{key}` = {url}: no service has the network alias {host}, so containers cannot reach it")
            });
        assert!(
            service
                .ports
                .iter()
                .any(|p| p.published == port && p.target == port),
            "`{key}` = {url}: {front} must publish port {port} as {port}, so the URL works inside and outside"
        );
        assert!(
            lb_conf.contains(&format!("listen {port};")),
            "`{key}` = {url}: deploy/nginx/lb.conf has no `listen {port};`"
        );
    }
    // The front's X-Forwarded-For is believed, so rate limits count per client.
    let public = url::Url::parse(str_at(&raw, &["public_base_url"])).expect("a URL");
    let (front, service) = model
        .services
        .iter()
        .find(|(_, s)| {
            s.aliases
                .iter()
                .any(|a| Some(a.as_str()) == public.host_str())
        })
        .expect("a service answers for the public base URL");
    let trusted: Vec<&str> = strings_at(&raw, "rate_limits", "trusted_proxies");
    assert!(
        !service.addresses.is_empty()
            && service
                .addresses
                .iter()
                .all(|a| trusted.contains(&a.as_str())),
        "{front} forwards every request to the bridges: give it a fixed ipv4_address in \
         docker-compose.yml and list it in [rate_limits] trusted_proxies (now {trusted:?}, \
         {front} has {:?})",
        service.addresses
    );
    // nginx sends the bridge's port to every instance, at the port they listen on.
    let listen_port = str_at(&raw, &["listen"])
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    for (name, _) in bridges(&model) {
        assert!(
            lb_conf.contains(&format!("server {name}:{listen_port} ")),
            "deploy/nginx/lb.conf does not send requests to {name}:{listen_port}"
        );
    }
    for line in lb_conf.lines().map(str::trim) {
        if let Some(server) = line.strip_prefix("server ")
            && let Some((host, _)) = server.split_once(':')
        {
            assert!(
                model.services.contains_key(host),
                "deploy/nginx/lb.conf proxies to {host}, which is not a compose service"
            );
        }
    }
}

// Keycloak knows the bridge as it is configured.

#[test]
fn keycloak_realm_has_the_bridges_clients_and_members() {
    let model = model();
    let config = first_bridge_config(&model);
    let base = str_at(
        &toml::Value::Table(config.raw.clone()),
        &["public_base_url"],
    )
    .to_owned();
    let keycloak = model
        .services
        .get("keycloak")
        .expect("docker-compose.yml has a keycloak service");
    let hostname = keycloak
        .environment
        .get("KC_HOSTNAME")
        .expect("keycloak sets KC_HOSTNAME (the issuer's origin)")
        .trim_end_matches('/');
    let realm_file = keycloak
        .mounts
        .iter()
        .find(|m| m.target.starts_with("/opt/keycloak/data/import/"))
        .and_then(|m| m.source.clone())
        .expect("keycloak imports a realm file from /opt/keycloak/data/import/");
    let realm: Value = serde_json::from_str(&std::fs::read_to_string(&realm_file).expect("realm"))
        .expect("the realm file is JSON");
    let realm_url = format!(
        "{hostname}/realms/{}",
        realm["realm"].as_str().unwrap_or("")
    );
    let clients = realm["clients"].as_array().cloned().unwrap_or_default();
    let client = |client_id: &str| {
        clients
            .iter()
            .find(|c| c["clientId"] == client_id)
            .cloned()
            .unwrap_or_else(|| panic!("{realm_file} has no client {client_id:?}"))
    };
    // The attribute names each protocol sends the users' `department` attribute as.
    let mut department_names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for upstream in upstreams(&config.raw) {
        let id = str_at(upstream, &["id"]);
        let kind = str_at(upstream, &["kind"]);
        let c = if kind == "oidc" {
            assert_eq!(
                str_at(upstream, &["issuer"]),
                realm_url,
                "upstream {id:?}: the issuer is not Keycloak's realm"
            );
            let c = client(str_at(upstream, &["client_id"]));
            let secret_path = str_at(upstream, &["client_secret", "file"]);
            let secret_file = bridges(&model)[0]
                .1
                .source_of(secret_path)
                .unwrap_or_else(|| panic!("nothing is mounted at {secret_path}"));
            let secret = std::fs::read_to_string(secret_file).expect("secret file");
            assert_eq!(
                c["secret"].as_str(),
                Some(secret.trim_end()),
                "the realm's secret for client {:?} differs from {secret_file}",
                c["clientId"]
            );
            let callback = format!("{base}_sso_bridge/upstream/oidc/{id}/callback");
            assert!(
                c["redirectUris"]
                    .as_array()
                    .is_some_and(|u| u.contains(&Value::from(callback.clone()))),
                "the realm's client {:?} does not allow the redirect URI {callback}",
                c["clientId"]
            );
            c
        } else {
            assert_eq!(
                str_at(upstream, &["metadata_url"]),
                format!("{realm_url}/protocol/saml/descriptor"),
                "upstream {id:?}: the metadata URL is not Keycloak's realm"
            );
            let entity_id = upstream
                .get("sp_entity_id")
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{base}_sso_bridge/upstream/saml/{id}/metadata"));
            let c = client(&entity_id);
            let acs = format!("{base}_sso_bridge/upstream/saml/{id}/acs");
            assert_eq!(
                c["attributes"]["saml_assertion_consumer_url_post"].as_str(),
                Some(acs.as_str()),
                "the realm's SAML client does not post to the bridge's ACS"
            );
            c
        };
        let names = c["protocolMappers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["config"]["user.attribute"] == "department")
            .flat_map(|m| {
                ["claim.name", "attribute.name", "friendly.name"]
                    .into_iter()
                    .filter_map(|k| m["config"][k].as_str().map(str::to_owned))
            })
            .collect();
        department_names.insert(id.to_owned(), names);
    }
    // Every department admits one of the demo users, by the claim its rule checks.
    let users = realm["users"].as_array().cloned().unwrap_or_default();
    for department in departments(&config.raw) {
        let id = str_at(department, &["id"]);
        let upstream = str_at(department, &["upstream"]);
        let claim = str_at(department, &["membership", "claim"]);
        let sent_as = department_names.get(upstream).cloned().unwrap_or_default();
        assert!(
            sent_as.iter().any(|n| n == claim),
            "department {id:?} checks {claim:?}, but Keycloak sends `department` to {upstream:?} as {sent_as:?}"
        );
        let any_of: Vec<&str> = strings_at(department, "membership", "any_of");
        assert!(
            users.iter().any(|u| u["attributes"]["department"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v.as_str().is_some_and(|v| any_of.contains(&v)))),
            "no demo user in {realm_file} is a member of department {id:?} ({any_of:?})"
        );
    }
}

// The image builds from what the Dockerfile copies.

#[test]
fn dockerfile_copies_what_the_build_reads() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let build_stage = dockerfile
        .split("\nFROM ")
        .nth(1)
        .expect("a multi-stage Dockerfile");
    let copied: Vec<&str> = build_stage
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|args| !args.starts_with("--from"))
        .flat_map(|args| {
            let words: Vec<&str> = args.split_whitespace().collect();
            words[..words.len().saturating_sub(1)].to_vec()
        })
        .map(|path| path.trim_start_matches("./").trim_end_matches('/'))
        .collect();
    let mut needed = vec![
        "Cargo.toml".to_owned(),
        "Cargo.lock".to_owned(),
        "src".to_owned(),
        "templates".to_owned(),
    ];
    for optional in ["build.rs", "askama.toml", ".sqlx"] {
        if repo().join(optional).exists() {
            needed.push(optional.to_owned());
        }
    }
    // Directories embedded with sqlx::migrate!, anywhere in src/.
    let mut dirs = vec![repo().join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for (_, rest) in text
                    .match_indices("migrate!(\"")
                    .map(|(i, _)| text.split_at(i + 10))
                {
                    let embedded = rest.split('"').next().unwrap_or_default();
                    let top = embedded
                        .trim_start_matches("./")
                        .split('/')
                        .next()
                        .unwrap_or_default();
                    needed.push(top.to_owned());
                }
            }
        }
    }
    // Targets Cargo.toml declares must exist for the manifest to load.
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml"))
            .expect("Cargo.toml is TOML");
    // Path dependencies and workspace members are read by the build too.
    let path_dependencies = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|deps| deps.values())
        .filter_map(|dep| dep.get("path").and_then(toml::Value::as_str));
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str);
    for path in path_dependencies.chain(members) {
        needed.push(path.split('/').next().unwrap_or_default().to_owned());
    }
    for kind in ["bench", "bin", "example", "test"] {
        for target in manifest
            .get(kind)
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = match target.get("path").and_then(toml::Value::as_str) {
                Some(path) => path.to_owned(),
                None if kind == "bench" => "benches".to_owned(),
                None => continue,
            };
            needed.push(path.split('/').next().unwrap_or_default().to_owned());
        }
    }
    needed.sort();
    needed.dedup();
    let missing: Vec<&String> = needed
        .iter()
        .filter(|n| !copied.iter().any(|c| *c == n.as_str() || *c == "."))
        .collect();
    assert!(
        missing.is_empty(),
        "the Dockerfile's build stage does not COPY {missing:?}, which `cargo build` reads (it copies {copied:?})"
    );
}

/// The strings of the array at `table.key`, or none.
fn strings_at<'a>(value: &'a toml::Value, table: &str, key: &str) -> Vec<&'a str> {
    value
        .get(table)
        .and_then(|t| t.get(key))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .collect()
}
