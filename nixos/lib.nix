# Pure logic of services.govnode, kept free of nixpkgs (builtins only) so that
# it evaluates with a bare `nix-instantiate` and can be checked against the
# unit files in systemd/ on machines without a Nix store.
#
# The unit files are the source of truth for the service definition; this
# file mirrors their hardening and timer blocks (tests/nix/check.sh diffs
# them) so the NixOS VM test can assert that NixOS overrides weakened nothing.
let
  inherit (builtins)
    any
    attrNames
    concatLists
    concatStringsSep
    elemAt
    filter
    fromJSON
    genList
    hasAttr
    hashString
    isAttrs
    isBool
    isInt
    isList
    isString
    length
    map
    mapAttrs
    match
    removeAttrs
    replaceStrings
    sort
    stringLength
    toJSON
    toString
    ;

  # Values as a unit file spells them.
  unitValue =
    v:
    if isBool v then
      (if v then "yes" else "no")
    else if isList v then
      concatStringsSep " " (map unitValue v)
    else
      toString v;

  # One "Key=Value" line per value; a list value of a key that systemd
  # accumulates becomes one line per element, as in the unit files.
  unitLines =
    section:
    concatLists (
      map (
        key:
        let
          v = section.${key};
        in
        if isList v && v != [ ] && isList (elemAt v 0) then
          map (item: "${key}=${unitValue item}") v
        else
          [ "${key}=${unitValue v}" ]
      ) (attrNames section)
    );

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
    PrivateMounts = true;
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
    SystemCallFilter = [
      [ "@system-service" ]
      [
        "~@privileged"
        "@resources"
      ]
    ];
    SystemCallErrorNumber = "EPERM";
  };

  hardening = {
    # The daemon reaches RPC endpoints and serves its API over IP.
    daemon = hardeningCommon // {
      RestrictAddressFamilies = [
        "AF_UNIX"
        "AF_INET"
        "AF_INET6"
      ];
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

  # The [Service] lines of systemd/govnode-round.service other than
  # ExecStart and the hardening block (tests/nix/check.sh diffs them): the
  # per-DAO round services, which the module defines whole, start from them.
  roundService = {
    Type = "oneshot";
    TimeoutStartSec = "15min";
    DynamicUser = true;
    User = "govnode";
    Group = "govnode";
    LimitCORE = 0;
  };

  # A unit section of ./lib.nix's spelling as NixOS' serviceConfig takes it:
  # a list of lists is one line per inner list, any other list one line.
  nixosUnitSection = mapAttrs (
    _: v:
    if isList v && v != [ ] && isList (elemAt v 0) then
      map (concatStringsSep " ") v
    else if isList v then
      concatStringsSep " " v
    else
      v
  );

  # The arguments `govnode round` gets after --config: one --dao per name,
  # none (every DAO) for an empty list.
  roundDaoArgs = names: concatStringsSep "" (map (n: " --dao ${n}") names);

  # The unit name of a DAO's own round service and timer.
  daoRoundUnit = name: "govnode-round-${name}";

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
    PrivateMounts = "yes";
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
    RestartPreventExitStatus = "73 78";
  };

  # Where the daemon and `govnode round` read the configuration. A stable
  # path rather than the store path: a settings change then leaves ExecStart
  # alone, and SIGHUP makes the daemon read the new file.
  configPath = "/etc/govnode/config.yaml";

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
      level = "info";
      format = "text";
      target = "auto";
    };
    shutdown.drain_timeout = "20s";
  };

  # Credential ids the path shorthands (keyFile, urlFile, tokenFile) stand
  # for, as LoadCredential= names them and the YAML refers to them.
  nodeCredential = name: "node-${name}";
  apiTokenCredential = "api-token";
  rpcCredential = name: "rpc-${name}";
  rpcWsCredential = name: "rpc-ws-${name}";
  webhookCredential = name: "webhook-${name}";
  ledgerUrlCredential = "ledger-url";

  # services.govnode.ledger.postgres.createLocally: the database and role of
  # services.postgresql on the same host, reached over its Unix socket with
  # peer authentication as the unit's own user (so no password exists).
  # ensureDBOwnership needs the database named after the role, and peer
  # authentication needs the role named after the unit's User=.
  localLedgerDatabase = "govnode";
  localLedgerConninfo = "host=/run/postgresql user=${localLedgerDatabase} dbname=${localLedgerDatabase}";

  # What services.govnode.ledger.postgres puts into the settings.
  postgresLedgerSettings =
    postgres: conninfoFile:
    if !postgres.enable then
      { }
    else
      {
        kind = "postgres";
      }
      // (
        if postgres.createLocally then
          { url_file = "${conninfoFile}"; }
        else if postgres.urlFile != null then
          { url_credential = ledgerUrlCredential; }
        else
          { }
      );

  # Problems of services.govnode.ledger.postgres, as assertion messages.
  postgresLedgerProblems =
    postgres: settings:
    let
      ledger = attrsOrEmpty settings "ledger";
      opt = "services.govnode.ledger.postgres";
    in
    failedAssertions [
      {
        assertion = !(postgres.enable && postgres.createLocally && postgres.urlFile != null);
        message = "${opt}.urlFile is set but ${opt}.createLocally is true: the local database is reached over its Unix socket without a URL; set createLocally = false for a remote database.";
      }
      {
        assertion =
          !(postgres.enable && !postgres.createLocally)
          || postgres.urlFile != null
          || isSet ledger "url_credential";
        message = "${opt}.createLocally is false but no connection string is given: set ${opt}.urlFile (a file outside the Nix store) or settings.ledger.url_credential.";
      }
      {
        assertion = postgres.enable || valueOr ledger "kind" "sqlite" != "postgres" || isSet ledger "url_credential" || isSet ledger "url_file";
        message = "services.govnode.settings.ledger.kind = \"postgres\" without a connection string: use ${opt}.enable (with createLocally or urlFile) instead.";
      }
      {
        assertion = !(postgres.enable && isSet ledger "path");
        message = "services.govnode.settings.ledger.path is set but ${opt}.enable keeps the ledger in PostgreSQL: remove ledger.path.";
      }
    ];

  attrsOrEmpty =
    set: key: if isAttrs set && hasAttr key set && set.${key} != null then set.${key} else { };
  valueOr =
    set: key: default:
    if isAttrs set && hasAttr key set && set.${key} != null then set.${key} else default;
  isSet = set: key: valueOr set key null != null;

  # The credentials the path shorthands define, as entries of
  # services.govnode.credentials: { <id> = { file; }; } (whether encrypted
  # is left to that option).
  # Every endpoint of the settings, of the single-DAO `rpc` (chain = null)
  # and of each `chains.<name>.rpc`, as { chain; name; value; }.
  allEndpoints =
    settings:
    let
      chains = attrsOrEmpty settings "chains";
      of =
        chain: rpc:
        let
          endpoints = attrsOrEmpty rpc "endpoints";
        in
        map (name: {
          inherit chain name;
          value = endpoints.${name};
        }) (attrNames endpoints);
    in
    of null (attrsOrEmpty settings "rpc")
    ++ concatLists (map (c: of c (attrsOrEmpty chains.${c} "rpc")) (attrNames chains));

  # The name rule of chains and DAOs (a metrics label, a journald field, a
  # path segment of the API and part of a unit name).
  daoNameOk = name: match "[a-z0-9][a-z0-9_-]{0,31}" name != null;

  shorthandCredentials =
    settings:
    let
      nodes = attrsOrEmpty settings "nodes";
      endpoints = allEndpoints settings;
      api = attrsOrEmpty settings "api";
      webhooks = attrsOrEmpty settings "webhooks";
      entry = id: file: {
        name = id;
        value = { inherit file; };
      };
    in
    builtins.listToAttrs (
      map (name: entry (nodeCredential name) nodes.${name}.keyFile) (
        filter (name: isSet nodes.${name} "keyFile") (attrNames nodes)
      )
      ++ map (e: entry (rpcCredential e.name) e.value.urlFile) (
        filter (e: isSet e.value "urlFile") endpoints
      )
      ++ map (e: entry (rpcWsCredential e.name) e.value.wsUrlFile) (
        filter (e: isSet e.value "wsUrlFile") endpoints
      )
      ++ (if isSet api "tokenFile" then [ (entry apiTokenCredential api.tokenFile) ] else [ ])
      ++ map (name: entry (webhookCredential name) webhooks.${name}.urlFile) (
        filter (name: isSet webhooks.${name} "urlFile") (attrNames webhooks)
      )
    );

  # Every credential the daemon's configuration (YAML shape) refers to, as
  # { id; kind; index; }: `kind` is what the secret holds, `index` numbers
  # the keys so that their stand-ins differ.
  referencedCredentials =
    config:
    let
      nodes = valueOr config "nodes" [ ];
      endpoints =
        valueOr (attrsOrEmpty config "rpc") "endpoints" [ ]
        ++ concatLists (map (c: valueOr (attrsOrEmpty c "rpc") "endpoints" [ ]) (valueOr config "chains" [ ]));
      api = attrsOrEmpty config "api";
      webhooks = valueOr config "webhooks" [ ];
      keyed = filter (n: isSet n "key_credential") nodes;
    in
    genList (i: {
      id = (elemAt keyed i).key_credential;
      kind = "key";
      index = i;
    }) (length keyed)
    ++ map (e: {
      id = e.url_credential;
      kind = "url";
    }) (filter (e: isSet e "url_credential") (endpoints ++ webhooks))
    ++ map (e: {
      id = e.ws_url_credential;
      kind = "ws_url";
    }) (filter (e: isSet e "ws_url_credential") endpoints)
    ++ (
      if isSet (attrsOrEmpty config "ledger") "url_credential" then
        [
          {
            id = config.ledger.url_credential;
            kind = "conninfo";
          }
        ]
      else
        [ ]
    )
    ++ (
      if isSet api "token_credential" then
        [
          {
            id = api.token_credential;
            kind = "token";
          }
        ]
      else
        [ ]
    );

  # services.govnode.credentials and .importCredentials as the unit's
  # directives, one line per credential: a file is loaded (encrypted or not)
  # from its path, a credential without a file from systemd's credential
  # store (/etc/credstore, /run/credstore, and .encrypted for encrypted ones).
  credentialDirectives =
    credentials: importCredentials:
    let
      ids = attrNames credentials;
      fileOf = id: credentials.${id}.file or null;
      line = id: if fileOf id == null then id else "${id}:${fileOf id}";
      pick = encrypted: map line (filter (id: (credentials.${id}.encrypted or false) == encrypted) ids);
    in
    {
      LoadCredential = pick false;
      LoadCredentialEncrypted = pick true;
      ImportCredential = importCredentials;
    };

  # ImportCredential= takes globs; the module needs to know whether a glob
  # covers a credential the configuration names.
  globMatches =
    glob: id:
    let
      special = [
        "\\"
        "."
        "+"
        "("
        ")"
        "["
        "]"
        "{"
        "}"
        "^"
        "$"
        "|"
      ];
      escaped = replaceStrings special (map (c: "\\" + c) special) glob;
    in
    match (replaceStrings [ "*" "?" ] [ ".*" "." ] escaped) id != null;

  # Nulls are "not set" in Nix options; the daemon denies unknown keys and
  # would take a null literally.
  dropNulls =
    v:
    if isAttrs v then
      mapAttrs (_: dropNulls) (removeAttrs v (filter (k: v.${k} == null) (attrNames v)))
    else if isList v then
      map dropNulls v
    else
      v;

  # Endpoints are tried by priority; the name breaks ties so the rendered
  # order never depends on attribute order.
  byPriority =
    a: b:
    let
      pa = valueOr a "priority" 0;
      pb = valueOr b "priority" 0;
    in
    if pa == pb then a.name < b.name else pa < pb;

  # Nix-side settings to the daemon's YAML shape. The mapping, as the option
  # descriptions state it:
  # - nodes.<name> = { ... } becomes { name = "<name>"; ... } in the list
  #   `nodes`, ordered by name;
  # - rpc.endpoints.<name> likewise in `rpc.endpoints`, ordered by priority,
  #   then name;
  # - webhooks.<name> likewise in `webhooks`, ordered by name;
  # - the shorthands keyFile, urlFile, tokenFile become key_credential:
  #   node-<name>, url_credential: rpc-<name> (webhook-<name> for a
  #   webhook), token_credential: api-token; an endpoint's wsUrlFile
  #   becomes ws_url_credential: rpc-ws-<name>;
  # - every other key, *_credential included, is written as it stands.
  # - chains.<name> becomes { name = "<name>"; ... } in the list `chains`,
  #   ordered by name, its `rpc` rendered as the single-DAO `rpc` is;
  # - daos.<name> likewise in `daos`, ordered by name, and its
  #   voters.<node> = { ... } becomes { node = "<node>"; ... } in the list
  #   `voters`, ordered by node name;
  # - empty `chains` and `daos` (the single-DAO form) are left out.
  renderSettings =
    settings:
    let
      nodes = attrsOrEmpty settings "nodes";
      api = attrsOrEmpty settings "api";
      shorthand =
        set: option: key: id:
        removeAttrs set [ option ] // (if isSet set option then { ${key} = id; } else { });
      node = name: { inherit name; } // shorthand nodes.${name} "keyFile" "key_credential" (nodeCredential name);
      renderRpc =
        rpc:
        let
          endpoints = attrsOrEmpty rpc "endpoints";
          endpoint =
            name:
            { inherit name; }
            // shorthand (shorthand endpoints.${name} "wsUrlFile" "ws_url_credential" (rpcWsCredential name))
              "urlFile"
              "url_credential"
              (rpcCredential name);
        in
        rpc // { endpoints = sort byPriority (map endpoint (attrNames endpoints)); };
      webhooks = attrsOrEmpty settings "webhooks";
      webhook =
        name: { inherit name; } // shorthand webhooks.${name} "urlFile" "url_credential" (webhookCredential name);
      chains = attrsOrEmpty settings "chains";
      chain =
        name:
        { inherit name; }
        // chains.${name}
        // (if isSet chains.${name} "rpc" then { rpc = renderRpc chains.${name}.rpc; } else { });
      daos = attrsOrEmpty settings "daos";
      dao =
        name:
        let
          d = daos.${name};
        in
        { inherit name; }
        // d
        // (
          if isSet d "voters" then
            { voters = map (node: { inherit node; } // d.voters.${node}) (attrNames d.voters); }
          else
            { }
        );
    in
    dropNulls (
      removeAttrs settings [
        "chains"
        "daos"
      ]
      // (if settings ? nodes then { nodes = map node (attrNames nodes); } else { })
      // (if isSet settings "rpc" then { rpc = renderRpc settings.rpc; } else { })
      // (if chains != { } then { chains = map chain (attrNames chains); } else { })
      // (if daos != { } then { daos = map dao (attrNames daos); } else { })
      // (
        if settings ? api then
          { api = shorthand api "tokenFile" "token_credential" apiTokenCredential; }
        else
          { }
      )
      // (if settings ? webhooks then { webhooks = map webhook (attrNames webhooks); } else { })
    );

  # The settings a running daemon cannot take over on SIGHUP (it logs "takes
  # effect after a restart" for them): a change in these restarts the unit,
  # a change elsewhere reloads it. Hashed, so no URL or address lands in the
  # unit file's X-Restart-Triggers=.
  restartSettings =
    config:
    let
      api = attrsOrEmpty config "api";
      dao = attrsOrEmpty config "dao";
      log = attrsOrEmpty config "log";
    in
    {
      chain = valueOr config "chain" null;
      rpc = valueOr config "rpc" null;
      dao = {
        kind = valueOr dao "kind" null;
        address = valueOr dao "address" null;
      };
      api = {
        listen = valueOr api "listen" null;
        enabled = valueOr api "enabled" null;
      };
      control = valueOr config "control" null;
      ledger = valueOr config "ledger" null;
      # Leases are elected for at start: every `ha` key, and the nodes'
      # lease groups.
      ha = valueOr config "ha" null;
      leaseGroups = map (node: {
        name = valueOr node "name" null;
        group = valueOr (attrsOrEmpty node "ha") "group" null;
      }) (valueOr config "nodes" [ ]);
      log = {
        format = valueOr log "format" null;
        target = valueOr log "target" null;
      };
      # As chain and rpc above: every key of every chain. Of a DAO what
      # `dao` restarts for, and its chain; voters, margins and the start
      # block reload.
      chains = valueOr config "chains" null;
      daos = map (d: {
        name = valueOr d "name" null;
        chain = valueOr d "chain" null;
        kind = valueOr d "kind" null;
        address = valueOr d "address" null;
      }) (valueOr config "daos" [ ]);
    };
  restartHash = config: hashString "sha256" (toJSON (restartSettings config));

  # "20s", "2m", "1h", "90" (seconds) -> integer seconds; null when the form is
  # not one of these (the daemon accepts more, e.g. "1m 30s").
  durationSeconds =
    s:
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
    if isInt s then
      s
    else if m == null then
      null
    else if unit == null then
      n
    else if unit == "ms" then
      (n + 999) / 1000
    else
      n * factor.${unit};

  # systemd must not SIGKILL the daemon while it still drains: the drain
  # timeout plus 10 s to close the ledger, as the packaged unit does for the
  # default of 20 s.
  stopTimeoutSec =
    settings:
    let
      drain =
        valueOr (attrsOrEmpty settings "shutdown") "drain_timeout"
          defaultSettings.shutdown.drain_timeout;
      secs = durationSeconds drain;
    in
    if secs == null then null else secs + 10;

  # The port of an api.listen address ("127.0.0.1:5001", "[::]:5001").
  listenPort =
    listen:
    let
      m = match ".*:([0-9]+)" listen;
    in
    if m == null then null else fromJSON (elemAt m 0);

  isLoopbackListen = listen: match "(127[.][0-9.]+|localhost|[[]::1[]]):[0-9]+" listen != null;

  hexDigits = [
    "0"
    "1"
    "2"
    "3"
    "4"
    "5"
    "6"
    "7"
    "8"
    "9"
    "a"
    "b"
    "c"
    "d"
    "e"
    "f"
  ];
  toHex = n: (if n >= 16 then toHex (n / 16) else "") + elemAt hexDigits (n - (n / 16) * 16);
  leftPad = width: s: if stringLength s >= width then s else leftPad width ("0" + s);

  # Stand-ins with the right shape for each kind of secret, so `govnode
  # check-config` can run at build time without the real secrets (which must
  # never enter the store). Keys are the scalars 1, 2, ...: valid, public,
  # and distinct per node.
  dummyCredential =
    c:
    if c.kind == "key" then
      "0x" + leftPad 64 (toHex (c.index + 1))
    else if c.kind == "url" then
      "http://127.0.0.1:8545"
    else if c.kind == "ws_url" then
      "ws://127.0.0.1:8545"
    else if c.kind == "conninfo" then
      "postgresql://govnode@127.0.0.1:5432/govnode"
    else
      "build-time-placeholder-token";

  # The drop-in a non-NixOS operator writes for the same settings.
  credentialsDropIn =
    settings:
    let
      creds = shorthandCredentials settings;
    in
    concatStringsSep "\n" (
      [ "[Service]" ] ++ map (id: "LoadCredential=${id}:${creds.${id}.file}") (attrNames creds)
    )
    + "\n";

  # Folds a list of { assertion; message; } into the failing messages.
  failedAssertions = checks: map (c: c.message) (filter (c: !c.assertion) checks);

  # As the daemon accepts them in *_credential keys.
  credentialIdOk = id: isString id && match "[A-Za-z0-9_.@-]+" id != null;
  inStore = p: match "/nix/store/.*" (toString p) != null;
  secretPathOk = p: isString p && match "/.*" p != null && !inStore p;

  # Everything the module asserts about settings and credentials, pure so it
  # can be tested. `credentials` and `importCredentials` are the module's
  # options of those names (the shorthands' entries included).
  problems =
    {
      settings,
      credentials ? shorthandCredentials settings,
      importCredentials ? [ ],
    }:
    let
      nodes = attrsOrEmpty settings "nodes";
      endpoints = attrsOrEmpty (attrsOrEmpty settings "rpc") "endpoints";
      chains = attrsOrEmpty settings "chains";
      daos = attrsOrEmpty settings "daos";
      # The form of the file: many DAOs (chains and daos) or one (chain,
      # rpc and dao at the top level).
      manyDaos = chains != { } || daos != { };
      singleKeys = filter (isSet settings) [
        "chain"
        "rpc"
        "dao"
      ];
      endpointPath =
        e: if e.chain == null then "${opt}.rpc.endpoints.${e.name}" else "${opt}.chains.${e.chain}.rpc.endpoints.${e.name}";
      everyEndpoint = allEndpoints settings;
      # Endpoint name -> where it is defined, for the names defined twice.
      endpointPlaces = builtins.groupBy (e: e.name) everyEndpoint;
      duplicateEndpoints = filter (name: length endpointPlaces.${name} > 1) (attrNames endpointPlaces);
      api = attrsOrEmpty settings "api";
      control = attrsOrEmpty settings "control";
      ledger = attrsOrEmpty settings "ledger";
      webhooks = attrsOrEmpty settings "webhooks";
      provided = id: hasAttr id credentials || any (glob: globMatches glob id) importCredentials;
      exactlyOne = set: keys: length (filter (isSet set) keys) == 1;
      opt = "services.govnode.settings";
    in
    failedAssertions (
      [
        {
          assertion = nodes != { };
          message = "${opt}.nodes is empty: define at least one node, e.g. settings.nodes.ai-gov-01.keyFile = \"/run/keys/ai-gov-01.key\".";
        }
        {
          assertion = !(manyDaos && singleKeys != [ ]);
          message = "${opt}: ${concatStringsSep ", " singleKeys} (one DAO) and chains/daos (many DAOs) are both set; a configuration has one form or the other: move the DAO into settings.daos and its chain and RPC endpoints into settings.chains, or leave chains and daos unset.";
        }
        {
          assertion = manyDaos || endpoints != { };
          message = "${opt}.rpc.endpoints is empty: define at least one, e.g. settings.rpc.endpoints.primary.urlFile = \"/run/keys/rpc-primary.url\".";
        }
        {
          assertion = manyDaos || (isSet settings "chain" && isSet settings "dao");
          message = "${opt}: no DAO to vote in: set chain and dao (and rpc.endpoints) for one DAO, or chains and daos for many.";
        }
        {
          assertion = !manyDaos || chains != { };
          message = "${opt}.daos is set but ${opt}.chains is empty: define the chains the DAOs live on, e.g. settings.chains.mainnet = { id = 1; rpc.endpoints.primary.urlFile = \"/run/keys/rpc-primary.url\"; }.";
        }
        {
          assertion = !manyDaos || daos != { };
          message = "${opt}.chains is set but ${opt}.daos is empty: define at least one DAO, e.g. settings.daos.dloop = { chain = \"mainnet\"; kind = \"assetdao\"; address = \"0x...\"; }.";
        }
        {
          assertion = stopTimeoutSec settings != null;
          message = "${opt}.shutdown.drain_timeout = \"${
            toString (valueOr (attrsOrEmpty settings "shutdown") "drain_timeout" "")
          }\" is not a single number with unit (ms, s, m, h); the module derives TimeoutStopSec from it.";
        }
        {
          assertion = !isSet control "socket" || match "/run/govnode/[^/]+" control.socket != null;
          message = "${opt}.control.socket must be a file directly in /run/govnode (the unit's RuntimeDirectory): the daemon can write nowhere else and govnode-round.service looks for it there.";
        }
        {
          assertion = !isSet ledger "path" || match "/var/lib/govnode/.+" ledger.path != null;
          message = "${opt}.ledger.path must be under /var/lib/govnode (the unit's StateDirectory): everything else is read-only for the daemon.";
        }
        {
          assertion = !(api ? token_file) && !(isSet api "tokenFile" && isSet api "token_credential");
          message = "${opt}.api: set tokenFile (a path) or token_credential (a credential id), not token_file and not both.";
        }
      ]
      ++ map (name: {
        assertion = !(nodes.${name} ? key_file) && exactlyOne nodes.${name} [ "keyFile" "key_credential" ];
        message = "${opt}.nodes.${name}: set exactly one of keyFile (a path outside the Nix store) or key_credential (a credential id of services.govnode.credentials or importCredentials); key_file is not readable by the service's dynamic user.";
      }) (attrNames nodes)
      ++ map (e: {
        assertion =
          !(e.value ? url_file)
          && exactlyOne e.value [
            "url"
            "urlFile"
            "url_credential"
          ];
        message = "${endpointPath e}: set exactly one of url (no secret in it), urlFile (a path, passed as a systemd credential) or url_credential (a credential id).";
      }) everyEndpoint
      ++ map (name: {
        assertion = false;
        message = "${opt}: the RPC endpoint name \"${name}\" is used more than once (${
          concatStringsSep ", " (map endpointPath endpointPlaces.${name})
        }); endpoint names are unique across all chains: a name labels logs and metrics, and urlFile makes it the credential id ${rpcCredential name}.";
      }) duplicateEndpoints
      ++ map (c: {
        assertion = daoNameOk c;
        message = "${opt}.chains.\"${c}\": a chain name is 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or digit.";
      }) (attrNames chains)
      ++ map (c: {
        assertion = attrsOrEmpty (attrsOrEmpty chains.${c} "rpc") "endpoints" != { };
        message = "${opt}.chains.${c}.rpc.endpoints is empty: define at least one, e.g. settings.chains.${c}.rpc.endpoints.${c}-primary.urlFile = \"/run/keys/rpc-${c}-primary.url\".";
      }) (attrNames chains)
      ++ map (d: {
        assertion = daoNameOk d;
        message = "${opt}.daos.\"${d}\": a DAO name is 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or digit (it is a metrics label, a journald field, part of the API path /api/v1/daos/<name> and of the unit govnode-round-<name>).";
      }) (attrNames daos)
      ++ map (d: {
        assertion = hasAttr (toString (valueOr daos.${d} "chain" "")) chains;
        message = "${opt}.daos.${d}.chain = \"${toString (valueOr daos.${d} "chain" "")}\" names no chain of ${opt}.chains (defined: ${concatStringsSep ", " (attrNames chains)}).";
      }) (attrNames daos)
      ++ concatLists (
        map (
          d:
          map (v: {
            assertion = hasAttr v nodes;
            message = "${opt}.daos.${d}.voters.${v} names no node of ${opt}.nodes (defined: ${concatStringsSep ", " (attrNames nodes)}).";
          }) (attrNames (attrsOrEmpty daos.${d} "voters"))
        ) (attrNames daos)
      )
      ++ map (name: {
        assertion =
          !(webhooks.${name} ? url_file)
          && !(webhooks.${name} ? url)
          && exactlyOne webhooks.${name} [
            "urlFile"
            "url_credential"
          ];
        message = "${opt}.webhooks.${name}: set exactly one of urlFile (a path outside the Nix store, passed as a systemd credential) or url_credential (a credential id); a webhook URL holds the receiver's token, so url is refused, and url_file is not readable by the service's dynamic user.";
      }) (attrNames webhooks)
      ++ map (id: {
        assertion = credentialIdOk id;
        message = "services.govnode.credentials.\"${id}\": a credential id may use letters, digits, '.', '_', '@' and '-' (node and endpoint names with a path shorthand become part of one).";
      }) (attrNames credentials)
      ++ map (
        id:
        let
          file = credentials.${id}.file or null;
        in
        {
          assertion =
            file == null
            || isString file && match "/.*" file != null && (credentials.${id}.encrypted or false || !inStore file);
          message = "services.govnode.credentials.\"${id}\".file = \"${toString file}\" must be an absolute path, and outside /nix/store unless the credential is encrypted: the store is world-readable.";
        }
      ) (attrNames credentials)
      ++ map (c: {
        assertion = credentialIdOk c.id && provided c.id;
        message = "${opt} refers to credential \"${toString c.id}\" (a ${c.kind}), which services.govnode.credentials does not define and no services.govnode.importCredentials glob covers.";
      }) (referencedCredentials (renderSettings settings))
    );

  # services.govnode.daos: a DAO's own timer needs the DAO.
  daoTimerProblems =
    settings: daoTimers:
    let
      daos = attrsOrEmpty settings "daos";
    in
    map (
      name:
      "services.govnode.daos.${name} (a round timer of its own) names no DAO of services.govnode.settings.daos (defined: ${concatStringsSep ", " (attrNames daos)})."
    ) (filter (name: !hasAttr name daos) (attrNames daoTimers));

  # The checks above for settings alone, the credentials following from the
  # path shorthands.
  settingsProblems = settings: problems { inherit settings; };
in
{
  inherit
    unitValue
    unitLines
    hardening
    timer
    showExpected
    configPath
    defaultSettings
    nodeCredential
    apiTokenCredential
    rpcCredential
    webhookCredential
    ledgerUrlCredential
    localLedgerDatabase
    localLedgerConninfo
    postgresLedgerSettings
    postgresLedgerProblems
    shorthandCredentials
    referencedCredentials
    credentialDirectives
    globMatches
    renderSettings
    restartSettings
    restartHash
    durationSeconds
    stopTimeoutSec
    listenPort
    isLoopbackListen
    dummyCredential
    credentialsDropIn
    problems
    daoTimerProblems
    settingsProblems
    allEndpoints
    daoNameOk
    roundService
    nixosUnitSection
    roundDaoArgs
    daoRoundUnit
    secretPathOk
    ;

  # Text blocks as they stand between the BEGIN/END markers of the unit files,
  # sorted (tests/nix/check.sh sorts the unit side the same way).
  rendered = {
    daemonHardening = concatStringsSep "\n" (sort (a: b: a < b) (unitLines hardening.daemon)) + "\n";
    roundHardening = concatStringsSep "\n" (sort (a: b: a < b) (unitLines hardening.round)) + "\n";
    roundService = concatStringsSep "\n" (sort (a: b: a < b) (unitLines roundService)) + "\n";
    timer = concatStringsSep "\n" (sort (a: b: a < b) (unitLines timer)) + "\n";
  };
}
