# Every option of services.govnode set to a value other than its default (the
# renamed ones are checked separately, through their old names): a module
# whose options do not all evaluate, merge and render fails here.
{
  services.govnode = {
    enable = true;
    checkConfig = true;
    openFirewall = true;
    # Rendered into ExecStart only: `govnode run` takes no further
    # arguments today.
    extraArgs = [ "--example-extra-arg" ];
    timer = {
      enable = true;
      onCalendar = [
        "*:0/15"
        "Sat 12:00"
      ];
      persistent = false;
      randomizedDelaySec = "30s";
    };
    credentials = {
      node-ai-gov-02 = {
        file = "/etc/credstore.encrypted/node-ai-gov-02";
        encrypted = true;
      };
      # The shorthand's entry, loaded encrypted.
      api-token.encrypted = true;
      # From the credential store, by id.
      rpc-store = { };
      webhook-store = { };
    };
    importCredentials = [ "govnode.rpc.*" ];
    ledger.postgres = {
      enable = true;
      # A remote database (the local one is checked apart: it sets
      # services.postgresql, which has no other way in here).
      createLocally = false;
      urlFile = "/run/keys/govnode-ledger.url";
    };
    settings = {
      chain = {
        id = 31337;
        name = "anvil";
      };
      dao = {
        kind = "assetdao";
        address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        vote_margin = "60s";
      };
      rpc.endpoints = {
        local = {
          url = "http://127.0.0.1:8545";
          priority = 0;
          max_rps = 25;
        };
        backup = {
          urlFile = "/run/keys/govnode-rpc-backup.url";
          wsUrlFile = "/run/keys/govnode-rpc-backup.ws-url";
          priority = 1;
        };
        store = {
          url_credential = "rpc-store";
          priority = 2;
        };
        imported = {
          url_credential = "govnode.rpc.imported";
          priority = 3;
        };
      };
      nodes = {
        ai-gov-01 = {
          keyFile = "/run/keys/ai-gov-01.key";
          strategy = "conservative";
        };
        ai-gov-02 = {
          key_credential = "node-ai-gov-02";
          strategy = "aggressive";
        };
      };
      api = {
        listen = "0.0.0.0:5001";
        tokenFile = "/run/keys/govnode-api-token";
      };
      webhooks = {
        ops = {
          kind = "slack";
          urlFile = "/run/keys/govnode-webhook-ops.url";
          events = [
            "vote_failed"
            "round_failed"
          ];
        };
        chat = {
          kind = "telegram";
          url_credential = "webhook-store";
          chat_id = "-1001234567890";
          timeout = "5s";
        };
      };
      log.level = "govnode=debug,info";
    };
  };
}
