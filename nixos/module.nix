# services.govnode: the govnode daemon and its round timer on NixOS.
#
# The units themselves come from the package (systemd/ in the repository,
# installed under lib/systemd/system) through systemd.packages; this module
# only adds what is NixOS-specific as drop-ins: the credentials, wantedBy,
# the reload and restart triggers and the timer schedule. Pure logic
# (defaults, credential names, rendering, assertions) lives in ./lib.nix.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.govnode;
  pure = import ./lib.nix;
  format = pkgs.formats.yaml { };

  inherit (lib) mkOption types;

  # A secret is named by path and read by systemd at start, so it must never
  # be a Nix path value: interpolating one copies the file into the
  # world-readable store.
  absolutePath = types.addCheck types.str (lib.hasPrefix "/") // {
    description = "absolute path (a string, not a Nix path)";
  };
  secretPath = absolutePath // {
    description = "absolute path to a secret file outside the Nix store (a string, not a Nix path)";
  };

  rendered = pure.renderSettings cfg.settings;
  referenced = pure.referencedCredentials rendered;
  directives = pure.credentialDirectives cfg.credentials cfg.importCredentials;

  uncheckedConfig = format.generate "govnode-unchecked.yaml" rendered;

  # A config the daemon would reject fails the system build, not the service:
  # `govnode check-config` of the build platform runs on the generated file,
  # with stand-ins of the right shape for the secrets, which never enter the
  # store.
  configFile =
    if cfg.checkConfig then
      pkgs.runCommand "govnode.yaml"
        {
          nativeBuildInputs = [ cfg.checkPackage ];
          preferLocalBuild = true;
        }
        ''
          creds="$(mktemp -d)"
          ${lib.concatMapStrings (c: ''
            printf '%s' ${lib.escapeShellArg (pure.dummyCredential c)} > "$creds"/${lib.escapeShellArg c.id}
          '') referenced}
          CREDENTIALS_DIRECTORY="$creds" govnode check-config --config ${uncheckedConfig}
          cp ${uncheckedConfig} "$out"
        ''
    else
      uncheckedConfig;

  postgres = cfg.ledger.postgres;
  localDatabase = postgres.enable && postgres.createLocally;
  # Holds no secret: the local database is reached by peer authentication.
  localConninfo = pkgs.writeText "govnode-ledger.conninfo" pure.localLedgerConninfo;
  # Units whose end means the local database and its role exist
  # (ensureUsers and ensureDatabases run in postgresql-setup.service).
  localDatabaseUnits = [
    "postgresql.service"
    "postgresql-setup.service"
  ];

  govnode = lib.getExe cfg.package;
  stopTimeout = pure.stopTimeoutSec cfg.settings;
  apiPort = pure.listenPort cfg.settings.api.listen;

  # DAOs with a round timer of their own, and the rest, whose rounds
  # govnode-round.service runs.
  daoTimers = lib.filterAttrs (_: d: d.timer.enable) cfg.daos;
  sharedDaos = lib.filter (n: !(daoTimers ? ${n})) (lib.attrNames cfg.settings.daos);
  everyDaoOwnTimer = cfg.settings.daos != { } && sharedDaos == [ ];
  roundCommand = names: "${govnode} round --config ${pure.configPath}${pure.roundDaoArgs names}";

  # The RPC provider pool, as the single-DAO `rpc` and as each chain's
  # `chains.<name>.rpc`.
  rpcType = types.submodule {
    freeformType = format.type;
    options.endpoints = mkOption {
      default = { };
      description = ''
        JSON-RPC endpoints by name, written as the list
        `rpc.endpoints` ordered by `priority`, then name; the name
        labels logs and metrics, never the URL. Set exactly one of
        `url`, `urlFile` and `url_credential`. Endpoint names are
        unique across all chains.
      '';
      type = types.attrsOf (
        types.submodule {
          freeformType = format.type;
          options.url = nullOrStr "http://127.0.0.1:8545" "URL without secrets in it (it ends up in the store).";
          options.urlFile = mkOption {
            type = types.nullOr secretPath;
            default = null;
            example = "/run/keys/rpc-primary.url";
            description = "File holding a URL with credentials in it, loaded as credential `rpc-<name>`.";
          };
          options.url_credential = nullOrStr "rpc-primary" "Id of a credential holding the URL (see {option}`services.govnode.credentials`).";
          options.wsUrlFile = mkOption {
            type = types.nullOr secretPath;
            default = null;
            example = "/run/keys/rpc-primary.ws-url";
            description = "File holding the endpoint's WebSocket URL (`ws_url`: new heads for every round's confirmation, and `round.on_new_proposal`) with credentials in it, loaded as credential `rpc-ws-<name>`.";
          };
          options.priority = mkOption {
            type = types.int;
            default = 0;
            description = "Lower is tried first.";
          };
        }
      );
    };
  };

  nullOrStr =
    example: description:
    mkOption {
      type = types.nullOr types.str;
      default = null;
      inherit example description;
    };
in
{
  imports = [
    (lib.mkRenamedOptionModule
      [ "services" "govnode" "logLevel" ]
      [ "services" "govnode" "settings" "log" "level" ]
    )
    (lib.mkRenamedOptionModule
      [ "services" "govnode" "schedule" ]
      [ "services" "govnode" "timer" "onCalendar" ]
    )
    (lib.mkRenamedOptionModule
      [ "services" "govnode" "randomizedDelay" ]
      [ "services" "govnode" "timer" "randomizedDelaySec" ]
    )
  ];

  options.services.govnode = {
    enable = lib.mkEnableOption "govnode, the DAO governance daemon, and its voting round timer";

    package = lib.mkPackageOption pkgs "govnode" { };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to run `govnode check-config` on the generated configuration
        at build time, so that a configuration the daemon would refuse fails
        the system build instead of the service. Secrets are replaced by
        stand-ins of the right shape; they never enter the store.
      '';
    };

    checkPackage = lib.mkPackageOption pkgs.buildPackages "govnode" { pkgsText = "pkgs.buildPackages"; } // {
      description = ''
        govnode for the build platform, which runs the build-time
        {option}`services.govnode.checkConfig` (so cross builds check with a
        binary the build machine can run). It must understand the same
        configuration as {option}`services.govnode.package`.
      '';
    };

    timer = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether govnode-round.timer starts voting rounds. Without it, rounds
          run only when started, e.g. `systemctl start govnode-round`.
        '';
      };
      onCalendar = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = pure.timer.OnCalendar;
        example = "hourly";
        description = ''
          When voting rounds run: `OnCalendar=` of govnode-round.timer, one
          {manpage}`systemd.time(7)` calendar event or a list of them. Replaces
          the packaged unit's schedule.
        '';
      };
      persistent = mkOption {
        type = types.bool;
        default = pure.timer.Persistent;
        description = ''
          `Persistent=` of govnode-round.timer: when the timer starts (at
          boot) and a scheduled round was missed while the machine was off or
          the timer stopped, run it at once.
        '';
      };
      randomizedDelaySec = mkOption {
        type = types.str;
        default = pure.timer.RandomizedDelaySec;
        example = "10min";
        description = ''
          `RandomizedDelaySec=` of govnode-round.timer: a random delay before
          each scheduled round, to spread machines on the same schedule over
          the RPC providers. `"0"` runs rounds on the schedule exactly.
        '';
      };
    };

    daos = mkOption {
      default = { };
      example = lib.literalExpression ''
        {
          dloop.timer.onCalendar = "*:0/10";
          treasury.timer = { onCalendar = "hourly"; randomizedDelaySec = "5min"; };
        }
      '';
      description = ''
        Round timers of their own for DAOs of
        {option}`services.govnode.settings.daos`, by DAO name. A DAO listed
        here gets `govnode-round-<name>.timer`, which starts
        `govnode-round-<name>.service` (`govnode round --dao <name>`, with the
        hardening of govnode-round.service). govnode-round.timer then runs
        the rounds of the other DAOs only (`govnode round --dao A --dao B`),
        and is not installed at all when every DAO has a timer of its own.
      '';
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options.timer = {
              enable = mkOption {
                type = types.bool;
                default = true;
                description = ''
                  Whether DAO ${name} has its own govnode-round-${name}.timer.
                  `false`: its rounds run with govnode-round.timer's.
                '';
              };
              onCalendar = mkOption {
                type = types.either types.str (types.listOf types.str);
                default = cfg.timer.onCalendar;
                defaultText = lib.literalExpression "config.services.govnode.timer.onCalendar";
                example = "*:0/10";
                description = "`OnCalendar=` of the DAO's timer: when its rounds run.";
              };
              persistent = mkOption {
                type = types.bool;
                default = cfg.timer.persistent;
                defaultText = lib.literalExpression "config.services.govnode.timer.persistent";
                description = "`Persistent=` of the DAO's timer: run a round missed while the machine was off.";
              };
              randomizedDelaySec = mkOption {
                type = types.str;
                default = cfg.timer.randomizedDelaySec;
                defaultText = lib.literalExpression "config.services.govnode.timer.randomizedDelaySec";
                example = "5min";
                description = "`RandomizedDelaySec=` of the DAO's timer.";
              };
            };
          }
        )
      );
    };

    credentials = mkOption {
      default = { };
      example = lib.literalExpression ''
        {
          # systemd-creds encrypt --name=node-ai-gov-01 key /etc/credstore.encrypted/node-ai-gov-01
          node-ai-gov-01 = { file = "/etc/credstore.encrypted/node-ai-gov-01"; encrypted = true; };
          # From /etc/credstore or /run/credstore, found by its id.
          rpc-primary = { };
        }
      '';
      description = ''
        systemd credentials of govnode.service, by id: each becomes one
        `LoadCredential=` line, or `LoadCredentialEncrypted=` when
        `encrypted` is set. The configuration refers to them by id in its
        `*_credential` keys (`settings.nodes.<name>.key_credential`,
        `settings.rpc.endpoints.<name>.url_credential`,
        `settings.webhooks.<name>.url_credential`,
        `settings.api.token_credential`); the daemon reads them from
        `$CREDENTIALS_DIRECTORY`, where systemd puts them, decrypted,
        readable only by the service.

        The path shorthands `keyFile`, `urlFile` and `tokenFile` define the
        entries `node-<name>`, `rpc-<name>`, `webhook-<name>` and
        `api-token` here; set
        `encrypted = true` on such an entry to load its file with
        `LoadCredentialEncrypted=`.
      '';
      type = types.attrsOf (
        types.submodule {
          options.file = mkOption {
            type = types.nullOr absolutePath;
            default = null;
            example = "/run/keys/ai-gov-01.key";
            description = ''
              The file systemd reads at start. `null`: the credential of this
              id from systemd's credential store (`/etc/credstore`,
              `/run/credstore`, and their `.encrypted` twins when encrypted)
              or passed to the system by its invoker. A plain file must be
              outside the Nix store; an encrypted one may be anywhere.
            '';
          };
          options.encrypted = mkOption {
            type = types.bool;
            default = false;
            description = ''
              Whether the file is encrypted with {manpage}`systemd-creds(1)`
              (`LoadCredentialEncrypted=`), by the host key and/or the TPM.
            '';
          };
        }
      );
    };

    importCredentials = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "govnode.*" ];
      description = ''
        `ImportCredential=` globs of govnode.service: system credentials
        (from the credential store or passed to the system) imported under
        their own names, for the configuration's `*_credential` keys to
        name.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the TCP port of `settings.api.listen` in the firewall.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra arguments for `govnode run`; changing them restarts the daemon.";
    };

    ledger.postgres = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether the vote ledger lives in PostgreSQL
          (`settings.ledger.kind = "postgres"`) instead of the SQLite file
          under /var/lib/govnode. Several daemons on different machines that
          share one deployment's ledger (`settings.ha`) need it. The daemon
          creates its tables in an empty database; an existing SQLite ledger
          is moved with `govnode ledger migrate --to postgres` before the
          switch (docs/operations.md, "PostgreSQL ledger").
        '';
      };
      createLocally = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether the database is {option}`services.postgresql` on this
          host. The module then enables it, creates the role and the
          database `govnode` (owned by the role), and the daemon connects
          over the Unix socket in /run/postgresql with peer authentication
          as its own user `govnode`: no password exists. govnode.service
          starts after the database is set up and stops with it.

          `false`: the database is elsewhere; give
          {option}`services.govnode.ledger.postgres.urlFile`.
        '';
      };
      urlFile = mkOption {
        type = types.nullOr secretPath;
        default = null;
        example = "/run/keys/govnode-ledger.url";
        description = ''
          With `createLocally = false`: a file holding the connection string
          (`postgresql://USER:PASSWORD@HOST:PORT/DB`, or `key=value` pairs),
          loaded as credential `ledger-url` and named by
          `settings.ledger.url_credential`. The string never enters the store,
          a log or an API answer. For TLS to the database, set
          `settings.ledger.sslmode = "verify-full"` and `settings.ledger.ca_file`.
        '';
      };
    };

    settings = mkOption {
      default = { };
      example = lib.literalExpression ''
        {
          chain = { id = 11155111; name = "sepolia"; };
          dao = { kind = "assetdao"; address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"; };
          rpc.endpoints = {
            local = { url = "http://127.0.0.1:8545"; priority = 0; };
            backup = { urlFile = "/run/keys/govnode-rpc-backup.url"; priority = 1; };
          };
          nodes.ai-gov-01 = { keyFile = "/run/keys/ai-gov-01.key"; strategy = "conservative"; };
          api.tokenFile = "/run/keys/govnode-api-token";
        }
      '';
      description = ''
        govnode configuration (see docs/configuration.md), written as YAML
        into the store and linked to `/etc/govnode/config.yaml`, where the
        daemon and `govnode round` read it. Any key the daemon knows may be
        set; the keys below are typed.

        One DAO is configured with `chain`, `rpc` and `dao`; many DAOs, on
        one chain or several, with `chains` and `daos` instead (never both
        forms in one configuration).

        The YAML follows these settings key for key, except:
        - `nodes.<name>` becomes an entry `{ name = "<name>"; ... }` of the
          list `nodes`, ordered by name;
        - `rpc.endpoints.<name>` likewise of the list `rpc.endpoints`,
          ordered by `priority`, then name;
        - `webhooks.<name>` likewise of the list `webhooks`, ordered by
          name;
        - `chains.<name>` and `daos.<name>` likewise of the lists `chains`
          and `daos`, ordered by name (each chain's `rpc.endpoints` as
          `rpc.endpoints` is), and a DAO's `voters.<node>` of its list
          `voters` as `{ node = "<node>"; ... }`, ordered by node name;
        - the path shorthands become credentials: `nodes.<name>.keyFile` is
          `key_credential: node-<name>`, `rpc.endpoints.<name>.urlFile` is
          `url_credential: rpc-<name>`, `webhooks.<name>.urlFile` is
          `url_credential: webhook-<name>`, `api.tokenFile` is
          `token_credential: api-token`, each file loaded by
          {option}`services.govnode.credentials`;
        - unset (`null`) options are left out.

        A change that the daemon can take over while it runs (strategies,
        nodes, log level, round and API limits) reloads it (SIGHUP) without
        interrupting a round; a change of the chain, the RPC endpoints, the
        DAO contract (in the many-DAO form: of `chains`, or of a DAO's
        chain, kind or address), the API address, the ledger, the control socket, the
        log format or target, or of the credentials restarts it.
      '';
      type = types.submodule {
        freeformType = format.type;
        options = {
          chain = mkOption {
            default = null;
            description = "The chain the DAO lives on (single-DAO form).";
            type = types.nullOr (types.submodule {
              freeformType = format.type;
              options.id = mkOption {
                type = types.ints.positive;
                example = 11155111;
                description = "EIP-155 chain id; the daemon refuses an RPC endpoint that reports another.";
              };
              options.name = nullOrStr "sepolia" "Label for logs and metrics.";
            });
          };

          dao = mkOption {
            default = null;
            description = "The DAO to vote in (single-DAO form).";
            type = types.nullOr (types.submodule {
              freeformType = format.type;
              options.kind = mkOption {
                type = types.enum [
                  "assetdao"
                  "governor"
                ];
                description = "`assetdao` (DLoop AssetDAO) or `governor` (OpenZeppelin Governor).";
              };
              options.address = mkOption {
                type = types.strMatching "0x[0-9a-fA-F]{40}";
                description = "Contract address of the DAO.";
              };
            });
          };

          chains = mkOption {
            default = { };
            example = lib.literalExpression ''
              {
                mainnet = {
                  id = 1;
                  rpc.endpoints.mainnet-a = { urlFile = "/run/keys/rpc-mainnet-a.url"; priority = 0; };
                };
                base = {
                  id = 8453;
                  rpc.endpoints.base-a.urlFile = "/run/keys/rpc-base-a.url";
                };
              }
            '';
            description = ''
              The chains of the many-DAO form, by name, written as the list
              `chains` ordered by name. Use it with
              {option}`services.govnode.settings.daos` instead of the
              single-DAO `chain`, `rpc` and `dao`: a configuration has one
              form or the other. A name is 1 to 32 of `a-z`, `0-9`, `_` and
              `-`, starting with a letter or digit.

              Each chain has its own RPC provider pool, `rpc`, with the keys
              of the single-DAO `rpc`; its `rpc.endpoints.<name>` work as
              {option}`services.govnode.settings.rpc.endpoints` do (the
              shorthands `urlFile` and `wsUrlFile` become the credentials
              `rpc-<endpoint>` and `rpc-ws-<endpoint>`), and an endpoint name
              is unique across all chains. A change of a chain (its id, its
              endpoints) restarts the daemon.
            '';
            type = types.attrsOf (
              types.submodule {
                freeformType = format.type;
                options.id = mkOption {
                  type = types.ints.positive;
                  example = 8453;
                  description = "EIP-155 chain id; the daemon refuses an RPC endpoint of this chain that reports another.";
                };
                options.rpc = mkOption {
                  type = rpcType;
                  default = { };
                  description = "The chain's RPC provider pool (endpoints, breaker, retry, probe).";
                };
              }
            );
          };

          daos = mkOption {
            default = { };
            example = lib.literalExpression ''
              {
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
                  voters.ai-gov-01.strategy = "aggressive";
                };
              }
            '';
            description = ''
              The DAOs of the many-DAO form, by name, written as the list
              `daos` ordered by name; every DAO votes on the chain of
              {option}`services.govnode.settings.chains` it names. The name
              (1 to 32 of `a-z`, `0-9`, `_` and `-`, starting with a letter
              or digit) is the `dao` label of the metrics, the journal field
              `DAO=`, the API path `/api/v1/daos/<name>` and, with a timer of
              its own ({option}`services.govnode.daos`), the units
              `govnode-round-<name>.service` and `.timer`. `govnode round
              --dao <name>` runs a round of that DAO alone.

              A change of a DAO's chain, kind or address (and adding or
              removing a DAO) restarts the daemon; a change of its voters,
              margins or start block reloads it.
            '';
            type = types.attrsOf (
              types.submodule {
                freeformType = format.type;
                options.chain = mkOption {
                  type = types.str;
                  example = "mainnet";
                  description = "Name of the chain in {option}`services.govnode.settings.chains` the DAO lives on.";
                };
                options.kind = mkOption {
                  type = types.enum [
                    "assetdao"
                    "governor"
                  ];
                  description = "`assetdao` (DLoop AssetDAO) or `governor` (OpenZeppelin Governor).";
                };
                options.address = mkOption {
                  type = types.strMatching "0x[0-9a-fA-F]{40}";
                  description = "Contract address of the DAO.";
                };
                options.start_block = mkOption {
                  type = types.nullOr types.ints.unsigned;
                  default = null;
                  example = 123;
                  description = "Governor only: first block scanned for `ProposalCreated` logs (as `dao.start_block`).";
                };
                options.vote_margin = nullOrStr "60s" "No vote is sent when a proposal's deadline is closer than this (as `dao.vote_margin`).";
                options.vote_margin_blocks = mkOption {
                  type = types.nullOr types.ints.unsigned;
                  default = null;
                  example = 5;
                  description = "The same margin in blocks, for a DAO whose clock counts blocks (as `dao.vote_margin_blocks`).";
                };
                options.voters = mkOption {
                  default = null;
                  example = lib.literalExpression ''
                    {
                      ai-gov-01 = { strategy = "aggressive"; };
                      ai-gov-02 = { };
                    }
                  '';
                  description = ''
                    The nodes of {option}`services.govnode.settings.nodes`
                    that vote in this DAO, by node name, written as the list
                    `voters` of `{ node, strategy }` ordered by node name.
                    `null` (the default): every node votes, with its own
                    strategy.
                  '';
                  type = types.nullOr (
                    types.attrsOf (
                      types.submodule {
                        freeformType = format.type;
                        options.strategy = nullOrStr "aggressive" "The node's strategy in this DAO; `null`: the node's own.";
                      }
                    )
                  );
                };
              }
            );
          };

          rpc = mkOption {
            type = types.nullOr rpcType;
            default = null;
            description = ''
              RPC provider pool (endpoints, breaker, retry, probe) of the
              single-DAO form; with settings.chains, each chain has its own
              (`settings.chains.<name>.rpc`).
            '';
          };

          nodes = mkOption {
            default = { };
            description = ''
              The governance nodes (voters) this daemon signs for, by name,
              written as the list `nodes` ordered by name. Set exactly one of
              `keyFile` and `key_credential`.
            '';
            type = types.attrsOf (
              types.submodule {
                freeformType = format.type;
                options.keyFile = mkOption {
                  type = types.nullOr secretPath;
                  default = null;
                  example = "/run/keys/ai-gov-01.key";
                  description = "File holding the node's hex private key, loaded as credential `node-<name>`.";
                };
                options.key_credential = nullOrStr "node-ai-gov-01" "Id of a credential holding the key (see {option}`services.govnode.credentials`).";
                options.strategy = mkOption {
                  type = types.str;
                  default = "conservative";
                  description = "`conservative`, `aggressive`, or the name of a rules strategy.";
                };
              }
            );
          };

          api = mkOption {
            default = { };
            description = "HTTP API, metrics and status page.";
            type = types.submodule {
              freeformType = format.type;
              options.listen = mkOption {
                type = types.str;
                default = pure.defaultSettings.api.listen;
                description = "Address and port to listen on.";
              };
              options.tokenFile = mkOption {
                type = types.nullOr secretPath;
                default = null;
                example = "/run/keys/govnode-api-token";
                description = "File holding the bearer token for the write API, loaded as credential `api-token`.";
              };
              options.token_credential = nullOrStr "api-token" "Id of a credential holding the token (see {option}`services.govnode.credentials`).";
            };
          };

          webhooks = mkOption {
            default = { };
            description = ''
              Notification targets by name, written as the list `webhooks`
              ordered by name; the name labels logs and metrics, never the
              URL. Set exactly one of `urlFile` and `url_credential`: the URL
              holds the receiver's token and is never inline. Any other key
              of docs/configuration.md (`events`, `chat_id`, `timeout`,
              `max_attempts`, `queue_size`, `per_minute`) may be set.
            '';
            example = lib.literalExpression ''
              {
                ops = { kind = "slack"; urlFile = "/run/keys/govnode-slack.url"; events = [ "vote_failed" "round_failed" ]; };
                tg = { kind = "telegram"; urlFile = "/run/keys/govnode-telegram.url"; chat_id = "-1001234567890"; };
              }
            '';
            type = types.attrsOf (
              types.submodule {
                freeformType = format.type;
                options.kind = mkOption {
                  type = types.enum [
                    "slack"
                    "discord"
                    "telegram"
                    "generic"
                  ];
                  description = "The body sent: Slack or Discord webhook, Telegram `sendMessage`, or the event as JSON (`generic`).";
                };
                options.urlFile = mkOption {
                  type = types.nullOr secretPath;
                  default = null;
                  example = "/run/keys/govnode-slack.url";
                  description = "File holding the URL to post to, loaded as credential `webhook-<name>`.";
                };
                options.url_credential = nullOrStr "webhook-ops" "Id of a credential holding the URL (see {option}`services.govnode.credentials`).";
              }
            );
          };

          log = mkOption {
            default = { };
            description = "Logging.";
            type = types.submodule {
              freeformType = format.type;
              options.level = mkOption {
                type = types.str;
                default = pure.defaultSettings.log.level;
                example = "govnode=debug,info";
                description = "A tracing filter: a level (`trace` … `error`) or per-module levels. Reloads.";
              };
            };
          };
        };
      };
    };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [ {
    assertions =
      map
        (message: {
          assertion = false;
          inherit message;
        })
        (
          pure.problems {
            inherit (cfg) settings credentials importCredentials;
          }
          ++ pure.postgresLedgerProblems postgres cfg.settings
          ++ pure.daoTimerProblems cfg.settings cfg.daos
        )
      ++ [
        {
          assertion =
            cfg.openFirewall -> (apiPort != null && !pure.isLoopbackListen cfg.settings.api.listen);
          message = "services.govnode.openFirewall is set but settings.api.listen = \"${cfg.settings.api.listen}\" is not reachable from outside; listen on e.g. \"0.0.0.0:5001\" or leave openFirewall off.";
        }
      ];

    services.govnode.settings = lib.mkMerge [
      (lib.mapAttrsRecursive (_: lib.mkDefault) pure.defaultSettings)
      (lib.mkIf postgres.enable { ledger = pure.postgresLedgerSettings postgres localConninfo; })
    ];

    services.govnode.credentials = lib.mkMerge [
      (pure.shorthandCredentials cfg.settings)
      (lib.mkIf (postgres.enable && !postgres.createLocally && postgres.urlFile != null) {
        ${pure.ledgerUrlCredential}.file = postgres.urlFile;
      })
    ];

    services.postgresql = lib.mkIf localDatabase {
      enable = true;
      ensureDatabases = [ pure.localLedgerDatabase ];
      ensureUsers = [
        {
          name = pure.localLedgerDatabase;
          ensureDBOwnership = true;
        }
      ];
    };

    # Where the daemon and the CLI (`govnode round`, `govnode check-config`)
    # read the configuration: switching the system relinks it, and the
    # reload trigger below makes the daemon read it again.
    environment.etc."govnode/config.yaml".source = configFile;

    systemd.packages = [ cfg.package ];

    systemd.services.govnode = {
      wantedBy = [ "multi-user.target" ];
      # The ledger's database must be up, with its role, before the daemon
      # opens it; a stopped database stops the daemon rather than leave it
      # failing every round.
      after = lib.optionals localDatabase localDatabaseUnits;
      requires = lib.optionals localDatabase localDatabaseUnits;
      # A new configuration file alone reloads the daemon (SIGHUP), which
      # takes it over between rounds. What it cannot take over while running
      # changes the unit (the hash below, credentials, arguments) and so
      # restarts it.
      reloadTriggers = [ configFile ];
      restartTriggers = [ (pure.restartHash rendered) ];
      serviceConfig = {
        # NixOS' systemd has notify-reload (253+): `systemctl reload` then
        # waits for the daemon's READY=1 instead of returning once the
        # signal is sent.
        Type = "notify-reload";
        ReloadSignal = "SIGHUP";
        ExecReload = [ "" ];
        # The stable path, not the store path: a new file alone must not
        # change the unit.
        ExecStart = [
          ""
          "${govnode} run --config ${pure.configPath}${
            lib.optionalString (cfg.extraArgs != [ ]) " ${lib.escapeShellArgs cfg.extraArgs}"
          }"
        ];
        LoadCredential = directives.LoadCredential;
        LoadCredentialEncrypted = directives.LoadCredentialEncrypted;
        ImportCredential = directives.ImportCredential;
        TimeoutStopSec = lib.mkIf (stopTimeout != null) "${toString stopTimeout}s";
      };
    };

    systemd.services.govnode-round = lib.mkMerge [
      {
        # Switching the system must not cast votes.
        restartIfChanged = false;
        # Every DAO without a timer of its own; all of them (no --dao) when
        # none has one.
        serviceConfig.ExecStart = [
          ""
          (roundCommand (lib.optionals (daoTimers != { }) sharedDaos))
        ];
      }
      # Masked: every DAO has its own round service.
      (lib.mkIf everyDaoOwnTimer { enable = false; })
    ];

    systemd.timers.govnode-round = lib.mkMerge [
      (lib.mkIf (cfg.timer.enable && !everyDaoOwnTimer) {
        wantedBy = [ "timers.target" ];
        timerConfig = {
          # An empty OnCalendar= first resets the packaged timer's schedule.
          OnCalendar = [ "" ] ++ lib.toList cfg.timer.onCalendar;
          Persistent = cfg.timer.persistent;
          RandomizedDelaySec = cfg.timer.randomizedDelaySec;
        };
      })
      (lib.mkIf everyDaoOwnTimer { enable = false; })
    ];

    networking.firewall.allowedTCPPorts = lib.mkIf (cfg.openFirewall && apiPort != null) [ apiPort ];
  }

  {
      # A DAO's own round service and timer, defined whole here (the package
      # has none): the packaged govnode-round.service's settings and
      # hardening, one DAO.
      systemd.services = lib.mapAttrs' (
        name: _:
        lib.nameValuePair (pure.daoRoundUnit name) {
          description = "govnode voting round of DAO ${name}";
          requires = [ "govnode.service" ];
          after = [ "govnode.service" ];
          restartIfChanged = false;
          serviceConfig = pure.nixosUnitSection (pure.roundService // pure.hardening.round) // {
            ExecStart = roundCommand [ name ];
          };
        }
      ) daoTimers;

      systemd.timers = lib.mapAttrs' (
        name: d:
        lib.nameValuePair (pure.daoRoundUnit name) {
          description = "govnode voting round schedule of DAO ${name}";
          wantedBy = [ "timers.target" ];
          timerConfig = {
            OnCalendar = d.timer.onCalendar;
            Persistent = d.timer.persistent;
            RandomizedDelaySec = d.timer.randomizedDelaySec;
          };
        }
      ) daoTimers;
    }
  ]);
}
