# Pure logic of services.govnode, kept free of nixpkgs (builtins only) so that
# it evaluates with a bare `nix-instantiate` and can be checked against the
# unit files in systemd/ on machines without a Nix store.
#
# The unit files are the source of truth for the service definition; this
# file mirrors their hardening and timer blocks (tests/nix/check.sh diffs
# them) so the NixOS VM test can assert that NixOS overrides weakened nothing.
let
  inherit (builtins)
    attrNames concatLists concatStringsSep elemAt filter fromJSON
    genList hasAttr isAttrs isBool isInt isList isString length map
    mapAttrs match removeAttrs sort stringLength toString
    ;

  # Values as a unit file spells them.
  unitValue = v:
    if isBool v then (if v then "yes" else "no")
    else if isList v then concatStringsSep " " (map unitValue v)
    else toString v;

  # One "Key=Value" line per value; a list value of a key that systemd
  # accumulates becomes one line per element, as in the unit files.
  unitLines = section:
    concatLists (map
      (key:
        let v = section.${key}; in
        if isList v && v != [ ] && isList (elemAt v 0)
        then map (item: "${key}=${unitValue item}") v
        else [ "${key}=${unitValue v}" ])
      (attrNames section));

  hardeningCommon = {
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    DevicePolicy = "closed";
    PrivateUsers = true;
    PrivateIPC = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    ProtectProc = "invisible";
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    RemoveIPC = true;
    KeyringMode = "private";
    UMask = "0077";
    SystemCallArchitectures = "native";
    # Two lines in the unit: allow the service set, then take the
    # privileged and resource-changing calls away again.
    SystemCallFilter = [ [ "@system-service" ] [ "~@privileged" "@resources" ] ];
    SystemCallErrorNumber = "EPERM";
  };

  hardening = {
    # The daemon reaches RPC endpoints and serves its API over IP.
    daemon = hardeningCommon // {
      RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
    };
    # The round trigger only speaks to the daemon's unix socket.
    # No ProcSubset=pid for the daemon: its metrics read /proc/stat (boot
    # time for process_start_time_seconds).
    round = hardeningCommon // {
      ProcSubset = "pid";
      RestrictAddressFamilies = [ "AF_UNIX" ];
      PrivateNetwork = true;
      IPAddressDeny = "any";
    };
  };

  timer = {
    OnCalendar = "*:0/30";
    Persistent = true;
    RandomizedDelaySec = "2min";
  };

  # Properties as `systemctl show` prints them on a running system, for the
  # VM test: the effective unit after NixOS' drop-ins must keep them.
  showExpected = {
    DynamicUser = "yes";
    NoNewPrivileges = "yes";
    ProtectSystem = "strict";
    ProtectHome = "yes";
    PrivateTmp = "yes";
    PrivateDevices = "yes";
    PrivateUsers = "yes";
    ProtectKernelTunables = "yes";
    ProtectKernelModules = "yes";
    ProtectKernelLogs = "yes";
    ProtectControlGroups = "yes";
    ProtectClock = "yes";
    ProtectHostname = "yes";
    ProtectProc = "invisible";
    RestrictRealtime = "yes";
    RestrictSUIDSGID = "yes";
    LockPersonality = "yes";
    MemoryDenyWriteExecute = "yes";
    RemoveIPC = "yes";
    UMask = "0077";
    CapabilityBoundingSet = "";
    RestartPreventExitStatus = "78";
  };

  # Defaults the module sets (each with mkDefault, so every one can be
  # overridden). Socket and ledger paths are left to the daemon, which puts
  # them into the unit's RuntimeDirectory and StateDirectory.
  defaultSettings = {
    api = {
      listen = "127.0.0.1:5001";
      allowed_origins = [ ];
    };
    round = {
      deadline = "10m";
      concurrency = 8;
    };
    log = {
      format = "text";
      target = "auto";
    };
    shutdown.drain_timeout = "20s";
  };
  defaultLogLevel = "info";

  # Credential ids, as LoadCredential= names them and the YAML refers to them.
  nodeCredential = name: "node-${name}";
  apiTokenCredential = "api-token";
  rpcCredential = name: "rpc-${name}";

  attrsOrEmpty = set: key: if isAttrs set && hasAttr key set && set.${key} != null then set.${key} else { };
  valueOr = set: key: default: if isAttrs set && hasAttr key set && set.${key} != null then set.${key} else default;

  # Every secret file the settings name, as { id; path; }.
  credentialsOf = settings:
    let
      nodes = attrsOrEmpty settings "nodes";
      endpoints = attrsOrEmpty (attrsOrEmpty settings "rpc") "endpoints";
      api = attrsOrEmpty settings "api";
    in
    let keyed = filter (name: valueOr nodes.${name} "keyFile" null != null) (attrNames nodes); in
    genList
      (i: { id = nodeCredential (elemAt keyed i); path = nodes.${elemAt keyed i}.keyFile; kind = "key"; index = i; })
      (length keyed)
    ++ (if valueOr api "tokenFile" null != null
    then [{ id = apiTokenCredential; path = api.tokenFile; kind = "token"; }]
    else [ ])
    ++ map (name: { id = rpcCredential name; path = endpoints.${name}.urlFile; kind = "url"; })
      (filter (name: valueOr endpoints.${name} "urlFile" null != null) (attrNames endpoints));

  # Nulls are "not set" in Nix options; the daemon denies unknown keys and
  # would take a null literally.
  dropNulls = v:
    if isAttrs v then
      mapAttrs (_: dropNulls) (removeAttrs v (filter (k: v.${k} == null) (attrNames v)))
    else if isList v then map dropNulls v
    else v;

  # Endpoints are tried by priority; the name breaks ties so the rendered
  # order never depends on attribute order.
  byPriority = a: b:
    let pa = valueOr a "priority" 0; pb = valueOr b "priority" 0; in
    if pa == pb then a.name < b.name else pa < pb;

  # Nix-side settings (attrsets keyed by name, secrets as paths) to the
  # daemon's YAML shape (lists, secrets as credential names).
  renderSettings = settings:
    let
      nodes = attrsOrEmpty settings "nodes";
      rpc = attrsOrEmpty settings "rpc";
      endpoints = attrsOrEmpty rpc "endpoints";
      api = attrsOrEmpty settings "api";
      node = name:
        { inherit name; }
        // removeAttrs nodes.${name} [ "keyFile" ]
        // (if valueOr nodes.${name} "keyFile" null != null
        then { key_credential = nodeCredential name; } else { });
      endpoint = name:
        { inherit name; }
        // removeAttrs endpoints.${name} [ "urlFile" ]
        // (if valueOr endpoints.${name} "urlFile" null != null
        then { url_credential = rpcCredential name; } else { });
    in
    dropNulls (settings
      // (if settings ? nodes then { nodes = map node (attrNames nodes); } else { })
      // (if settings ? rpc then {
      rpc = rpc // { endpoints = sort byPriority (map endpoint (attrNames endpoints)); };
    } else { })
      // (if settings ? api then {
      api = removeAttrs api [ "tokenFile" ]
        // (if valueOr api "tokenFile" null != null
      then { token_credential = apiTokenCredential; } else { });
    } else { }));

  # "20s", "2m", "1h", "90" (seconds) -> integer seconds; null when the form is
  # not one of these (the daemon accepts more, e.g. "1m 30s").
  durationSeconds = s:
    let
      m = match "([0-9]+)[[:space:]]*(ms|s|sec|m|min|h)?" (toString s);
      n = fromJSON (elemAt m 0);
      unit = elemAt m 1;
      factor = {
        s = 1;
        sec = 1;
        m = 60;
        min = 60;
        h = 3600;
      };
    in
    if isInt s then s
    else if m == null then null
    else if unit == null then n
    else if unit == "ms" then (n + 999) / 1000
    else n * factor.${unit};

  # systemd must not SIGKILL the daemon while it still drains: the drain
  # timeout plus 10 s to close the ledger, as the packaged unit does for the
  # default of 20 s.
  stopTimeoutSec = settings:
    let
      drain = valueOr (attrsOrEmpty settings "shutdown") "drain_timeout" defaultSettings.shutdown.drain_timeout;
      secs = durationSeconds drain;
    in
    if secs == null then null else secs + 10;

  # The port of an api.listen address ("127.0.0.1:5001", "[::]:5001").
  listenPort = listen:
    let m = match ".*:([0-9]+)" listen; in
    if m == null then null else fromJSON (elemAt m 0);

  isLoopbackListen = listen:
    match "(127[.][0-9.]+|localhost|[[]::1[]]):[0-9]+" listen != null;

  hexDigits = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
  toHex = n: (if n >= 16 then toHex (n / 16) else "") + elemAt hexDigits (n - (n / 16) * 16);
  leftPad = width: s: if stringLength s >= width then s else leftPad width ("0" + s);

  # Stand-ins with the right shape for each kind of secret, so `govnode
  # check-config` can run at build time without the real secrets (which must
  # never enter the store). Keys are the scalars 1, 2, ...: valid, public,
  # and distinct per node.
  dummyCredential = c:
    if c.kind == "key" then "0x" + leftPad 64 (toHex (c.index + 1))
    else if c.kind == "url" then "http://127.0.0.1:8545"
    else "build-time-placeholder-token";

  # The drop-in a non-NixOS operator writes for the same settings.
  credentialsDropIn = settings:
    concatStringsSep "\n"
      ([ "[Service]" ] ++ map (c: "LoadCredential=${c.id}:${c.path}") (credentialsOf settings))
    + "\n";

  # Folds a list of { assertion; message; } into the failing messages.
  failedAssertions = checks: map (c: c.message) (filter (c: !c.assertion) checks);

  credentialIdOk = id: match "[A-Za-z0-9_.-]+" id != null;
  secretPathOk = p: isString p && match "/.*" p != null && match "/nix/store/.*" p == null;

  # Everything the module asserts about settings, pure so it can be tested.
  settingsProblems = settings:
    let
      nodes = attrsOrEmpty settings "nodes";
      endpoints = attrsOrEmpty (attrsOrEmpty settings "rpc") "endpoints";
      api = attrsOrEmpty settings "api";
      creds = credentialsOf settings;
      control = attrsOrEmpty settings "control";
      ledger = attrsOrEmpty settings "ledger";
    in
    failedAssertions ([
      {
        assertion = nodes != { };
        message = "services.govnode.settings.nodes is empty: define at least one node, e.g. settings.nodes.ai-gov-01.keyFile = \"/run/keys/ai-gov-01.key\".";
      }
      {
        assertion = endpoints != { };
        message = "services.govnode.settings.rpc.endpoints is empty: define at least one, e.g. settings.rpc.endpoints.primary.urlFile = \"/run/keys/rpc-primary.url\".";
      }
      {
        assertion = stopTimeoutSec settings != null;
        message = "services.govnode.settings.shutdown.drain_timeout = \"${toString (valueOr (attrsOrEmpty settings "shutdown") "drain_timeout" "")}\" is not a single number with unit (ms, s, m, h); the module derives TimeoutStopSec from it.";
      }
      {
        assertion = valueOr control "socket" null == null || match "/run/govnode/[^/]+" control.socket != null;
        message = "services.govnode.settings.control.socket must be a file directly in /run/govnode (the unit's RuntimeDirectory): the daemon can write nowhere else and govnode-round.service looks for it there.";
      }
      {
        assertion = valueOr ledger "path" null == null || match "/var/lib/govnode/.+" ledger.path != null;
        message = "services.govnode.settings.ledger.path must be under /var/lib/govnode (the unit's StateDirectory): everything else is read-only for the daemon.";
      }
      {
        assertion = !(api ? token_credential) && !(api ? token_file);
        message = "Set services.govnode.settings.api.tokenFile (a path); the module turns it into a systemd credential.";
      }
    ]
    ++ concatLists (map
      (name: [
        {
          assertion = !(nodes.${name} ? key_file) && !(nodes.${name} ? key_credential);
          message = "services.govnode.settings.nodes.${name}: use keyFile (a path outside the Nix store); the module passes it as a systemd credential.";
        }
        {
          assertion = valueOr nodes.${name} "keyFile" null != null;
          message = "services.govnode.settings.nodes.${name}.keyFile is not set: every node needs its private key file.";
        }
      ])
      (attrNames nodes))
    ++ map
      (name: {
        assertion = length (filter (k: valueOr endpoints.${name} k null != null) [ "url" "urlFile" "url_file" "url_credential" ]) == 1
          && !(endpoints.${name} ? url_file) && !(endpoints.${name} ? url_credential);
        message = "services.govnode.settings.rpc.endpoints.${name}: set exactly one of url (no secret in it) or urlFile (a path, passed as a systemd credential).";
      })
      (attrNames endpoints)
    ++ map
      (c: {
        assertion = credentialIdOk c.id;
        message = "credential id \"${c.id}\" has characters systemd does not accept: node and endpoint names may use letters, digits, '.', '_' and '-'.";
      })
      creds
    ++ map
      (c: {
        assertion = secretPathOk c.path;
        message = "secret \"${toString c.path}\" (credential ${c.id}) must be an absolute path outside /nix/store: the store is world-readable.";
      })
      creds);
in
{
  inherit
    unitValue unitLines hardening timer showExpected defaultSettings
    defaultLogLevel nodeCredential apiTokenCredential rpcCredential
    credentialsOf renderSettings durationSeconds stopTimeoutSec listenPort
    isLoopbackListen dummyCredential credentialsDropIn settingsProblems
    ;

  # Text blocks as they stand between the BEGIN/END markers of the unit files,
  # sorted (tests/nix/check.sh sorts the unit side the same way).
  rendered = {
    daemonHardening = concatStringsSep "\n" (sort (a: b: a < b) (unitLines hardening.daemon)) + "\n";
    roundHardening = concatStringsSep "\n" (sort (a: b: a < b) (unitLines hardening.round)) + "\n";
    timer = concatStringsSep "\n" (sort (a: b: a < b) (unitLines timer)) + "\n";
  };
}
