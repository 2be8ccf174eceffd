# services.govnode through the real module system: nixpkgs.lib's evalModules,
# option types and merging (shared/nix/nixpkgs-lib), with stubs for what is
# not lib. tests/nix/check.sh renders the units from it and hands them to
# systemd-analyze.
#
# Stubbed (not the real thing): the NixOS options the module sets
# (assertions, warnings, environment.etc, systemd.*, networking.firewall;
# systemd.services' serviceConfig merges lists like NixOS' unitOption), and
# of pkgs: formats.yaml (renders with builtins.toJSON, as the real one feeds
# remarshal), runCommand (returns the script instead of building it),
# writeText (a store path named by its text) and
# the govnode package (a directory with the binary under test).
{
  nixpkgsLib,
  packageDir ? "/nonexistent/govnode",
}:
let
  lib = import nixpkgsLib;
  inherit (lib) mkOption types;

  pure = import ../../nixos/lib.nix;

  govnode = {
    type = "derivation";
    name = "govnode";
    outPath = packageDir;
    meta.mainProgram = "govnode";
  };

  yamlValue = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
      types.path
      (types.attrsOf yamlValue)
      (types.listOf yamlValue)
    ]
  )
  // {
    description = "YAML value";
  };

  pkgs = {
    inherit lib govnode;
    buildPackages = pkgs;
    stdenv.hostPlatform.system = "x86_64-linux";
    stdenv.buildPlatform.system = "x86_64-linux";
    formats.yaml = _: {
      type = yamlValue;
      generate = name: value: {
        type = "derivation";
        inherit name;
        # Like a store path, it changes with the content.
        outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" (builtins.toJSON value))}-${name}";
        text = builtins.toJSON value;
      };
    };
    writeText = name: text: {
      type = "derivation";
      inherit name text;
      outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" text)}-${name}";
    };
    runCommand = name: env: script: {
      type = "derivation";
      inherit name env script;
      outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" script)}-${name}";
    };
  };

  # Like NixOS' unitOption: a list definition adds to the others.
  unitOption = lib.mkOptionType {
    name = "systemd option (stub)";
    merge =
      loc: defs:
      let
        values = map (d: d.value) defs;
      in
      if lib.any builtins.isList values then
        lib.concatMap lib.toList values
      else
        lib.mergeEqualOption loc defs;
  };
  unitConfig = mkOption {
    type = types.attrsOf unitOption;
    default = { };
  };
  anything = mkOption {
    type = types.anything;
    default = { };
  };
  listOfAnything = mkOption {
    type = types.listOf types.anything;
    default = [ ];
  };
  unit = types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      serviceConfig = unitConfig;
      unitConfig = unitConfig;
      timerConfig = unitConfig;
      reloadTriggers = listOfAnything;
      restartTriggers = listOfAnything;
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      wantedBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };
  };

  nixosStubs = {
    options = {
      assertions = listOfAnything;
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.etc = mkOption {
        type = types.attrsOf (types.attrsOf types.anything);
        default = { };
      };
      systemd.packages = listOfAnything;
      systemd.services = mkOption {
        type = types.attrsOf unit;
        default = { };
      };
      systemd.timers = mkOption {
        type = types.attrsOf unit;
        default = { };
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };
      meta = anything;
      # Set by services.govnode.ledger.postgres.createLocally.
      services.postgresql = anything;
      # Only for the VM tests' machines.
      environment.systemPackages = listOfAnything;
      virtualisation = anything;
      specialisation = mkOption {
        type = types.attrsOf (
          types.submodule {
            options.configuration = mkOption {
              type = types.deferredModule;
              default = { };
            };
          }
        );
        default = { };
      };
    };
  };

  evaluate =
    modules:
    lib.evalModules {
      modules = [
        ../../nixos/module.nix
        nixosStubs
        { _module.args = { inherit pkgs; }; }
      ]
      ++ modules;
    };

  # NixOS' spelling of unit values in its drop-ins.
  unitValue =
    v:
    if builtins.isBool v then
      lib.boolToString v
    else if builtins.isAttrs v && v ? outPath then
      v.outPath
    else
      toString v;
  section =
    name: attrs:
    let
      lines = lib.concatLists (
        lib.mapAttrsToList (k: v: map (item: "${k}=${unitValue item}") (lib.toList v)) attrs
      );
    in
    lib.optionalString (lines != [ ]) ("[${name}]\n" + lib.concatStringsSep "\n" lines + "\n");

  # The overrides.conf NixOS writes for a unit of systemd.packages.
  dropIn =
    kind: u:
    section "Unit" (
      u.unitConfig
      // lib.optionalAttrs (u.reloadTriggers != [ ]) { X-Reload-Triggers = u.reloadTriggers; }
      // lib.optionalAttrs (u.restartTriggers != [ ]) { X-Restart-Triggers = u.restartTriggers; }
      // lib.optionalAttrs (!u.restartIfChanged) { X-RestartIfChanged = false; }
    )
    + (if kind == "timer" then section "Timer" u.timerConfig else section "Service" u.serviceConfig);

  failed = cfg: map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);

  # Every option of services.govnode set, through the options themselves
  # (the renamed ones through their old names, as an old configuration does).
  everyOption = import ./every-option.nix;

  full = evaluate [ everyOption ];
  fullCfg = full.config;

  # The least settings the module needs.
  leastSettings = {
    chain.id = 1;
    dao = {
      kind = "governor";
      address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    };
    rpc.endpoints.local.url = "http://127.0.0.1:8545";
    nodes.a.keyFile = "/run/keys/a";
  };

  withSettings =
    extra:
    evaluate [
      {
        services.govnode = {
          enable = true;
          settings = lib.recursiveUpdate leastSettings extra;
        };
      }
    ];

  # The module's defaults plus the least it needs.
  minimal = withSettings { };
  triggersOf = e: {
    reload = map unitValue e.config.systemd.services.govnode.reloadTriggers;
    restart = e.config.systemd.services.govnode.restartTriggers;
  };
in
{
  # The rendered units and what goes with them, for check.sh.
  full = {
    assertions = failed fullCfg;
    inherit (fullCfg) warnings;
    config = pure.renderSettings fullCfg.services.govnode.settings;
    credentials = map (c: {
      inherit (c) id;
      content = pure.dummyCredential c;
    }) (pure.referencedCredentials (pure.renderSettings fullCfg.services.govnode.settings));
    etc = lib.mapAttrs (_: e: unitValue e.source) fullCfg.environment.etc;
    checkScript = fullCfg.environment.etc."govnode/config.yaml".source.script;
    uncheckedPath = (pkgs.formats.yaml { }).generate "govnode-unchecked.yaml" (
      pure.renderSettings fullCfg.services.govnode.settings
    );
    daemonDropIn = dropIn "service" fullCfg.systemd.services.govnode;
    roundDropIn = dropIn "service" fullCfg.systemd.services.govnode-round;
    timerDropIn = dropIn "timer" fullCfg.systemd.timers.govnode-round;
    wantedBy = {
      daemon = fullCfg.systemd.services.govnode.wantedBy;
      timer = fullCfg.systemd.timers.govnode-round.wantedBy;
    };
    firewall = fullCfg.networking.firewall.allowedTCPPorts;
    serviceConfig = fullCfg.systemd.services.govnode.serviceConfig;
    timerConfig = fullCfg.systemd.timers.govnode-round.timerConfig;
  };

  minimal = {
    assertions = failed minimal.config;
    inherit (minimal.config) warnings;
    daemonDropIn = dropIn "service" minimal.config.systemd.services.govnode;
    timerDropIn = dropIn "timer" minimal.config.systemd.timers.govnode-round;
    config = pure.renderSettings minimal.config.services.govnode.settings;
  };

  # A reloadable change moves only the reload trigger; a change the daemon
  # cannot take over moves the restart trigger.
  triggers = {
    base = triggersOf (withSettings { });
    logLevel = triggersOf (withSettings { log.level = "debug"; });
    strategy = triggersOf (withSettings { nodes.a.strategy = "aggressive"; });
    listen = triggersOf (withSettings { api.listen = "127.0.0.1:5002"; });
    rpc = triggersOf (withSettings { rpc.endpoints.local.url = "http://127.0.0.1:8546"; });
    haLease = triggersOf (withSettings { ha.lease = "10s"; });
    leaseGroup = triggersOf (withSettings { nodes.a.ha.group = "east"; });
  };

  # An old configuration's options, through their new names.
  renamed =
    let
      e = evaluate [
        {
          services.govnode = {
            enable = true;
            logLevel = "warn";
            schedule = "hourly";
            randomizedDelay = "5min";
            settings = leastSettings;
          };
        }
      ];
    in
    {
      inherit (e.config) warnings;
      level = e.config.services.govnode.settings.log.level;
      inherit (e.config.services.govnode.timer) onCalendar randomizedDelaySec;
    };

  # The ledger in services.postgresql on the same host.
  localPostgres =
    let
      c =
        (evaluate [
          {
            services.govnode = {
              enable = true;
              ledger.postgres.enable = true;
              settings = leastSettings;
            };
          }
        ]).config;
      conninfo = c.services.govnode.settings.ledger.url_file;
    in
    {
      assertions = failed c;
      inherit (c) warnings;
      config = pure.renderSettings c.services.govnode.settings;
      conninfoFile = conninfo;
      conninfoText = pure.localLedgerConninfo;
      inherit (c.services) postgresql;
      inherit (c.systemd.services.govnode) after requires;
      loadCredential = c.systemd.services.govnode.serviceConfig.LoadCredential;
    };

  # Broken configurations, each with the assertion messages it raises.
  brokenPostgres =
    lib.mapAttrs
      (
        _: postgres:
        failed
          (evaluate [
            {
              services.govnode = {
                enable = true;
                ledger.postgres = postgres;
                settings = leastSettings;
              };
            }
          ]).config
      )
      {
        urlFileWithLocal = {
          enable = true;
          urlFile = "/run/keys/ledger.url";
        };
        remoteWithoutUrl = {
          enable = true;
          createLocally = false;
        };
      };

  broken = lib.mapAttrs (_: extra: failed (withSettings extra).config) {
    missingCredential = {
      nodes.b.key_credential = "node-b";
    };
    bothKeys = {
      nodes.a.key_credential = "node-a";
    };
    keyFileKey = {
      nodes.b.key_file = "/run/keys/b";
    };
    postgresKindAlone = {
      ledger.kind = "postgres";
    };
    storeUrlFile = {
      rpc.endpoints.local = {
        url = null;
        urlFile = "/nix/store/abc-url";
      };
    };
  };

  # The machines of the VM tests, with the module in place of the flake's
  # (the stub flake has none): their services.govnode settings must be
  # options of the module, pass its assertions, and a specialisation of
  # nixos/tests/switch.nix must move the trigger that test expects.
  vmMachines =
    let
      stubs = import ./stub-pkgs.nix;
      test = file: import file { inherit (stubs) pkgs self; };
      machineOf = file: node: evaluate [ (test file).nodes.${node} ];
      summary =
        e:
        let
          c = e.config;
        in
        {
          assertions = failed c;
          inherit (c) warnings;
          timer = c.systemd.timers.govnode-round.timerConfig or null;
          timerWanted = c.systemd.timers ? govnode-round;
          triggers = triggersOf e;
          config = pure.renderSettings c.services.govnode.settings;
          credentials = map (cr: {
            inherit (cr) id;
            content = pure.dummyCredential cr;
          }) (pure.referencedCredentials (pure.renderSettings c.services.govnode.settings));
          specialisations = lib.mapAttrs (
            _: s: triggersOf (evaluate [ (test ../../nixos/tests/switch.nix).nodes.machine s.configuration ])
          ) c.specialisation;
        };
    in
    lib.mapAttrs (_: m: summary (machineOf m.file m.node)) {
      round = {
        file = ../../nixos/tests/round.nix;
        node = "machine";
      };
      timer-persistent = {
        file = ../../nixos/tests/timer-persistent.nix;
        node = "machine";
      };
      switch = {
        file = ../../nixos/tests/switch.nix;
        node = "machine";
      };
      watchdog = {
        file = ../../nixos/tests/watchdog.nix;
        node = "machine";
      };
      # The two daemons differ in settings.ha.id only.
      failover-a = {
        file = ../../nixos/tests/failover.nix;
        node = "a";
      };
    };

  # The many-DAO form: two chains, three DAOs, and per-DAO timers.
  multiDao =
    let
      multiSettings = {
        chains = {
          mainnet = {
            id = 1;
            rpc = {
              endpoints = {
                mainnet-a = {
                  urlFile = "/run/keys/rpc-mainnet-a.url";
                  priority = 0;
                };
                mainnet-b = {
                  url = "http://127.0.0.1:8545";
                  priority = 1;
                };
              };
              breaker.failure_threshold = 3;
            };
          };
          base = {
            id = 8453;
            rpc.endpoints.base-a = {
              urlFile = "/run/keys/rpc-base-a.url";
              wsUrlFile = "/run/keys/rpc-base-a.ws-url";
            };
          };
        };
        daos = {
          dloop = {
            chain = "mainnet";
            kind = "assetdao";
            address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
            vote_margin = "60s";
          };
          treasury = {
            chain = "base";
            kind = "governor";
            address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
            start_block = 123;
            vote_margin_blocks = 5;
            voters = {
              b.strategy = "aggressive";
              a = { };
            };
          };
          grants = {
            chain = "mainnet";
            kind = "governor";
            address = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
          };
        };
        nodes = {
          a.keyFile = "/run/keys/a";
          b.keyFile = "/run/keys/b";
        };
      };
      multi =
        extra: daos:
        evaluate [
          {
            services.govnode = {
              enable = true;
              settings = lib.recursiveUpdate multiSettings extra;
              inherit daos;
            };
          }
        ];
      units =
        e:
        let
          c = e.config;
        in
        {
          assertions = failed c;
          services = lib.mapAttrs (_: u: {
            ExecStart = u.serviceConfig.ExecStart or null;
            enable = u.enable or true;
            restartIfChanged = u.restartIfChanged;
            serviceConfig = u.serviceConfig;
          }) (lib.filterAttrs (n: _: lib.hasPrefix "govnode-round" n) c.systemd.services);
          timers = lib.mapAttrs (_: u: {
            enable = u.enable or true;
            inherit (u) wantedBy timerConfig;
          }) c.systemd.timers;
        };
      plain = multi { } { };
    in
    {
      assertions = failed plain.config;
      inherit (plain.config) warnings;
      config = pure.renderSettings plain.config.services.govnode.settings;
      credentials = map (c: {
        inherit (c) id;
        content = pure.dummyCredential c;
      }) (pure.referencedCredentials (pure.renderSettings plain.config.services.govnode.settings));
      loadCredential = plain.config.systemd.services.govnode.serviceConfig.LoadCredential;
      units = {
        none = units plain;
        some = units (
          multi { } {
            dloop.timer.onCalendar = "*:0/10";
            grants.timer.enable = false;
          }
        );
        all = units (
          multi { } {
            dloop.timer.onCalendar = "*:0/10";
            grants = { };
            treasury.timer.randomizedDelaySec = "0";
          }
        );
      };
      triggers = lib.mapAttrs (_: extra: triggersOf (multi extra { })) {
        base = { };
        chainId = {
          chains.base.id = 84532;
        };
        endpoint = {
          chains.mainnet.rpc.endpoints.mainnet-b.url = "http://127.0.0.1:8546";
        };
        daoChain = {
          daos.grants.chain = "base";
        };
        daoKind = {
          daos.dloop.kind = "governor";
        };
        daoAddress = {
          daos.dloop.address = "0x0000000000000000000000000000000000000001";
        };
        voters = {
          daos.treasury.voters.a.strategy = "conservative";
        };
        margin = {
          daos.dloop.vote_margin = "90s";
        };
        marginBlocks = {
          daos.treasury.vote_margin_blocks = 7;
        };
      };
      broken = {
        bothForms = failed (multi { chain.id = 1; } { }).config;
        unknownChain = failed (multi { daos.grants.chain = "polygon"; } { }).config;
        duplicateEndpoint = failed (multi { chains.base.rpc.endpoints.mainnet-a.url = "http://x"; } { }).config;
        unknownVoter = failed (multi { daos.dloop.voters.c = { }; } { }).config;
        unknownTimer = failed (multi { } { polygon-dao = { }; }).config;
        badName = failed (multi { daos."Bad.Name" = { chain = "base"; kind = "governor"; address = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"; }; } { }).config;
        noDaos = failed
          (evaluate [
            {
              services.govnode = {
                enable = true;
                settings = {
                  inherit (multiSettings) chains nodes;
                };
              };
            }
          ]).config;
      };
    };

  # The option reference (docs/nixos-options.md) from the declarations.
  optionsDoc =
    let
      docs = lib.optionAttrSetToDocList { services = { inherit (full.options.services) govnode; }; };
    in
    lib.filter (o: o.visible && !o.internal) docs;
}
