# services.govnode: the govnode daemon and its round timer on NixOS.
#
# The units themselves come from the package (systemd/ in the repository,
# installed under lib/systemd/system) through systemd.packages; this module
# only adds what is NixOS-specific as drop-ins: the generated config, the
# credentials, wantedBy, and the timer schedule. Pure logic (defaults,
# credential names, rendering, assertions) lives in ./lib.nix.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.govnode;
  pure = import ./lib.nix;
  format = pkgs.formats.yaml { };

  inherit (lib) mkOption types;

  # A secret is named by path and read by systemd at start (LoadCredential=),
  # so it must never be a Nix path value: interpolating one copies the file
  # into the world-readable store.
  secretPath = types.addCheck types.str (s: lib.hasPrefix "/" s) // {
    description = "absolute path to a secret file outside the Nix store (a string, not a Nix path)";
  };

  credentials = pure.credentialsOf cfg.settings;
  rendered = pure.renderSettings cfg.settings;

  uncheckedConfig = format.generate "govnode-unchecked.yaml" rendered;

  # A config the daemon would reject fails the system build, not the service:
  # `govnode check-config` runs on the generated file with stand-ins of the
  # right shape for the secrets, which never enter the store.
  configFile = pkgs.runCommand "govnode.yaml"
    {
      nativeBuildInputs = [ cfg.package ];
      preferLocalBuild = true;
    }
    ''
      creds="$(mktemp -d)"
      ${lib.concatMapStrings (c: ''
        printf '%s' ${lib.escapeShellArg (pure.dummyCredential c)} > "$creds"/${lib.escapeShellArg c.id}
      '') credentials}
      CREDENTIALS_DIRECTORY="$creds" govnode check-config --config ${uncheckedConfig}
      cp ${uncheckedConfig} "$out"
    '';

  govnode = lib.getExe cfg.package;
  stopTimeout = pure.stopTimeoutSec cfg.settings;
  apiPort = pure.listenPort cfg.settings.api.listen;
in
{
  options.services.govnode = {
    enable = lib.mkEnableOption "govnode, the DAO governance daemon, and its voting round timer";

    package = lib.mkPackageOption pkgs "govnode" { };

    logLevel = mkOption {
      type = types.enum [ "trace" "debug" "info" "warn" "error" ];
      default = pure.defaultLogLevel;
      description = "Default for `settings.log.level`.";
    };

    schedule = mkOption {
      type = types.nullOr types.str;
      default = pure.timer.OnCalendar;
      example = "hourly";
      description = ''
        When voting rounds run, as a {manpage}`systemd.time(7)` calendar event
        (`OnCalendar=` of govnode-round.timer). `null` disables the timer;
        rounds then run only when started, e.g. `systemctl start govnode-round`.
      '';
    };

    randomizedDelay = mkOption {
      type = types.str;
      default = pure.timer.RandomizedDelaySec;
      example = "10min";
      description = "Random delay before each scheduled round (`RandomizedDelaySec=`), to spread machines on the same schedule.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the TCP port of `settings.api.listen` in the firewall.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra arguments for `govnode run`.";
    };

    settings = mkOption {
      default = { };
      description = ''
        govnode configuration, written as YAML into the store (see
        docs/configuration.md). Any key the daemon knows may be set; the keys
        below are typed. Secrets are paths (`nodes.<name>.keyFile`,
        `api.tokenFile`, `rpc.endpoints.<name>.urlFile`) handed to the daemon
        as systemd credentials; they never enter the store. Nodes and RPC
        endpoints are attribute sets keyed by name here and lists in the YAML.
      '';
      type = types.submodule {
        freeformType = format.type;
        options = {
          chain = mkOption {
            description = "The chain the DAO lives on.";
            type = types.submodule {
              freeformType = format.type;
              options.id = mkOption {
                type = types.ints.positive;
                example = 11155111;
                description = "EIP-155 chain id; the daemon refuses an RPC endpoint that reports another.";
              };
              options.name = mkOption {
                type = types.nullOr types.str;
                default = null;
                example = "sepolia";
                description = "Label for logs and metrics.";
              };
            };
          };

          dao = mkOption {
            description = "The DAO to vote in.";
            type = types.submodule {
              freeformType = format.type;
              options.kind = mkOption {
                type = types.enum [ "assetdao" "governor" ];
                description = "`assetdao` (DLoop AssetDAO) or `governor` (OpenZeppelin Governor).";
              };
              options.address = mkOption {
                type = types.strMatching "0x[0-9a-fA-F]{40}";
                description = "Contract address of the DAO.";
              };
            };
          };

          rpc = mkOption {
            default = { };
            description = "RPC provider pool (endpoints, breaker, retry, probe).";
            type = types.submodule {
              freeformType = format.type;
              options.endpoints = mkOption {
                default = { };
                description = "JSON-RPC endpoints by name; the name labels logs and metrics, never the URL.";
                type = types.attrsOf (types.submodule {
                  freeformType = format.type;
                  options.url = mkOption {
                    type = types.nullOr types.str;
                    default = null;
                    example = "http://127.0.0.1:8545";
                    description = "URL without secrets in it (it ends up in the store).";
                  };
                  options.urlFile = mkOption {
                    type = types.nullOr secretPath;
                    default = null;
                    example = "/run/keys/rpc-primary.url";
                    description = "File holding a URL with credentials in it, passed as credential `rpc-<name>`.";
                  };
                  options.priority = mkOption {
                    type = types.int;
                    default = 0;
                    description = "Lower is tried first.";
                  };
                });
              };
            };
          };

          nodes = mkOption {
            default = { };
            description = "The governance nodes (voters) this daemon signs for, by name.";
            type = types.attrsOf (types.submodule {
              freeformType = format.type;
              options.keyFile = mkOption {
                type = types.nullOr secretPath;
                default = null;
                example = "/run/keys/ai-gov-01.key";
                description = "File holding the node's hex private key, passed as credential `node-<name>`.";
              };
              options.strategy = mkOption {
                type = types.str;
                default = "conservative";
                description = "`conservative`, `aggressive`, or the name of a rules strategy.";
              };
            });
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
                description = "File holding the bearer token for the write API, passed as credential `api-token`.";
              };
            };
          };
        };
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      map (message: { assertion = false; inherit message; }) (pure.settingsProblems cfg.settings)
      ++ [
        {
          assertion = cfg.openFirewall -> (apiPort != null && !pure.isLoopbackListen cfg.settings.api.listen);
          message = "services.govnode.openFirewall is set but settings.api.listen = \"${cfg.settings.api.listen}\" is not reachable from outside; listen on e.g. \"0.0.0.0:5001\" or leave openFirewall off.";
        }
      ];

    services.govnode.settings = lib.mapAttrsRecursive (_: lib.mkDefault) pure.defaultSettings
      // { log = lib.mapAttrs (_: lib.mkDefault) (pure.defaultSettings.log // { level = cfg.logLevel; }); };

    # For the CLI (`govnode round`, `govnode check-config`), whose default
    # config path this is.
    environment.etc."govnode/config.yaml".source = configFile;

    systemd.packages = [ cfg.package ];

    systemd.services.govnode = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        # NixOS' systemd has notify-reload (253+): `systemctl reload` then
        # waits for the daemon's READY=1 instead of returning at once.
        Type = "notify-reload";
        ExecReload = [ "" ];
        ExecStart = [
          ""
          "${govnode} run --config ${configFile}${lib.optionalString (cfg.extraArgs != [ ]) " ${lib.escapeShellArgs cfg.extraArgs}"}"
        ];
        LoadCredential = map (c: "${c.id}:${c.path}") credentials;
        TimeoutStopSec = lib.mkIf (stopTimeout != null) "${toString stopTimeout}s";
      };
    };

    systemd.services.govnode-round = {
      # Switching the system must not cast votes.
      restartIfChanged = false;
      serviceConfig.ExecStart = [ "" "${govnode} round --config ${configFile}" ];
    };

    systemd.timers.govnode-round = lib.mkIf (cfg.schedule != null) {
      wantedBy = [ "timers.target" ];
      timerConfig = {
        # The packaged timer has its own OnCalendar=; an empty one resets it.
        OnCalendar = [ "" cfg.schedule ];
        RandomizedDelaySec = cfg.randomizedDelay;
      };
    };

    networking.firewall.allowedTCPPorts = lib.mkIf (cfg.openFirewall && apiPort != null) [ apiPort ];
  };
}
