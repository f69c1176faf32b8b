#!/usr/bin/env python3
"""Reads a Docker Compose file the way `docker compose` does, for tests/compose_file.rs.

    validate.py schema SCHEMA.json COMPOSE.yml   every schema error with its path; exit 1 if any
    validate.py model COMPOSE.yml                the services as JSON: environment, file mounts, ...
    validate.py yaml FILE|-                      any YAML document as JSON
    validate.py synapse HOMESERVER.yaml          load it with Synapse's own config parser

Interpolation (`${VAR:-default}` and friends) is applied as with no variable set
and no .env file, so the file must work out of the box: a variable without a
default is an error. Needs PyYAML and jsonschema (Synapse depends on both, so
.peers/venv, made by scripts/setup.sh, has them).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


class Problem(Exception):
    pass


def interpolate(value, path):
    """Compose's interpolation, with every variable unset."""
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(m):
        if m.group("escaped"):
            return "$"
        if m.group("invalid") is not None and m.group("braced") is None and m.group("named") is None:
            raise Problem(f"{path}: invalid interpolation in {value!r} (write $$ for a literal $)")
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op"), m.group("arg") or ""
        if op in (":-", "-"):
            return arg
        if op in (":+", "+"):
            return ""
        if op in (":?", "?"):
            raise Problem(f"{path}: ${{{name}}} is required ({arg})")
        raise Problem(f"{path}: ${{{name}}} has no default, so the file needs an .env file to work")

    return VARIABLE.sub(replace, value)


def load_compose(path):
    with open(path) as f:
        document = yaml.safe_load(f)
    if not isinstance(document, dict):
        raise Problem(f"{path}: not a mapping at the top level")
    return interpolate(document, "")


def json_path(error):
    parts = ["$"]
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "".join(parts)


def cmd_schema(schema_path, compose_path):
    with open(schema_path) as f:
        schema = json.load(f)
    try:
        document = load_compose(compose_path)
    except (Problem, yaml.YAMLError) as e:
        print(f"{compose_path}: {e}")
        return 1
    # The schema says draft-07 as "https://json-schema.org/draft-07/schema" (no `#`),
    # which jsonschema does not recognise by that spelling.
    if "draft-07" in schema.get("$schema", ""):
        validator_class = jsonschema.Draft7Validator
    else:
        validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        print(f"{json_path(error)}: {error.message}")
        # `oneOf`/`anyOf` failures: the alternatives' own errors say what is wrong.
        for sub in sorted(error.context or [], key=lambda e: list(map(str, e.absolute_path))):
            print(f"    {json_path(sub)}: {sub.message}")
    if errors:
        print(f"{len(errors)} error(s) against the Compose specification's schema")
        return 1
    print("valid")
    return 0


def as_dict(value, separator="="):
    """environment / labels: a mapping or a list of KEY=VALUE."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: "" if v is None else str(v) for k, v in value.items()}
    out = {}
    for item in value:
        key, _, val = str(item).partition(separator)
        out[key] = val
    return out


def host_path(project, source):
    return os.path.normpath(os.path.join(project, os.path.expanduser(source)))


def file_mounts(project, top, service):
    """Bind mounts, secrets and configs: (kind, host source or volume name, container target)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) == 1:
                mounts.append({"kind": "anonymous", "source": None, "target": parts[0]})
                continue
            source, target = parts[0], parts[1]
            if source.startswith((".", "/", "~")):
                mounts.append({"kind": "bind", "source": host_path(project, source), "target": target})
            else:
                mounts.append({"kind": "volume", "source": source, "target": target})
        else:
            kind = volume.get("type", "volume")
            source = volume.get("source")
            if kind == "bind":
                source = host_path(project, source)
            mounts.append({"kind": kind, "source": source, "target": volume["target"]})
    for kind, default_dir in (("secrets", "/run/secrets/"), ("configs", "/")):
        for entry in service.get(kind, []):
            name = entry if isinstance(entry, str) else entry["source"]
            target = name if isinstance(entry, str) else entry.get("target", name)
            if not target.startswith("/"):
                target = default_dir + target
            definition = (top.get(kind) or {}).get(name)
            if definition is None:
                raise Problem(f"service uses {kind[:-1]} {name!r}, which the top-level `{kind}` does not define")
            if "file" in definition:
                mounts.append({"kind": kind[:-1], "name": name, "source": host_path(project, definition["file"]), "target": target})
            else:
                mounts.append({"kind": kind[:-1], "name": name, "source": None, "target": target,
                               "not_a_file": sorted(definition)})
    return mounts


def cmd_model(compose_path):
    project = os.path.dirname(os.path.abspath(compose_path))
    top = load_compose(compose_path)
    services = {}
    for name, service in (top.get("services") or {}).items():
        build = service.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if build is not None:
            context = host_path(project, build.get("context", "."))
            build = {"context": context, "dockerfile": os.path.join(context, build.get("dockerfile", "Dockerfile"))}
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {d: {"condition": "service_started"} for d in depends_on}
        networks = service.get("networks") or {}
        if isinstance(networks, list):
            networks = {n: {} for n in networks}
        ports = []
        for port in service.get("ports", []):
            if isinstance(port, dict):
                ports.append({"host_ip": port.get("host_ip", ""), "published": str(port.get("published", "")), "target": str(port["target"])})
            else:
                parts = str(port).split(":")
                target = parts[-1]
                published = parts[-2] if len(parts) >= 2 else ""
                host_ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
                ports.append({"host_ip": host_ip, "published": published, "target": target})
        command = service.get("command")
        if isinstance(command, str):
            command = command.split()
        services[name] = {
            "image": service.get("image"),
            "build": build,
            "command": command,
            "environment": as_dict(service.get("environment")),
            "mounts": file_mounts(project, top, service),
            "depends_on": depends_on,
            "aliases": sorted({a for n in networks.values() for a in ((n or {}).get("aliases") or [])}),
            "addresses": sorted({n["ipv4_address"] for n in networks.values() if (n or {}).get("ipv4_address")}),
            "ports": ports,
        }
    print(json.dumps({
        "services": services,
        "volumes": sorted((top.get("volumes") or {}).keys()),
    }, indent=2, sort_keys=True))
    return 0


def cmd_yaml(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    print(json.dumps(yaml.safe_load(text), sort_keys=True))
    return 0


def cmd_synapse(path):
    """Synapse's own parser, with /data moved to a scratch directory (and a signing key made)."""
    with open(path) as f:
        text = f.read()
    scratch = tempfile.mkdtemp(prefix="compose-synapse-")
    try:
        config = os.path.join(scratch, "homeserver.yaml")
        with open(config, "w") as f:
            f.write(text.replace("/data/", scratch + "/"))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
        keys = subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "-c", config, "--generate-keys"], **quiet)
        if keys.returncode != 0:
            print(keys.stderr.strip())
            return 1
        check = subprocess.run([sys.executable, "-W", "ignore", "-c", (
            "import sys\n"
            "from synapse.config.homeserver import HomeServerConfig\n"
            "c = HomeServerConfig.load_config('synapse', ['-c', sys.argv[1]])\n"
            "print(c.server.server_name, [p.idp_id for p in c.oidc.oidc_providers])\n"
        ), config], capture_output=True, text=True)
        print((check.stdout + check.stderr).strip())
        return check.returncode
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv):
    commands = {"schema": (cmd_schema, 2), "model": (cmd_model, 1), "yaml": (cmd_yaml, 1), "synapse": (cmd_synapse, 1)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    function, _ = commands[argv[1]]
    try:
        return function(*argv[2:])
    except Problem as e:
        print(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
