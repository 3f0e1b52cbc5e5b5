// Crypto-currency miners: pool protocol URLs, miner configuration and command lines.

rule Vigil_Miner_Stratum_Pool_URL
{
    meta:
        description = "Mining pool address with the stratum protocol scheme"
        threat = "CoinMiner/Stratum.Pool"
        severity = "high"
        attack = "T1496.001"
        maturity = "stable"
    strings:
        $stratum = /stratum[0-9]?\+(tcp|ssl|tls):\/\/[A-Za-z0-9.\-]{3,253}(:[0-9]{2,5})?/ nocase
    condition:
        $stratum
}

rule Vigil_Miner_XMRig_Config
{
    meta:
        description = "XMRig-style JSON miner configuration (pools with a donate level)"
        threat = "CoinMiner/XMRig.Config"
        severity = "high"
        attack = "T1496.001"
        maturity = "stable"
    strings:
        $donate = /"donate-(over-proxy|level)"\s*:/
        $pools = /"pools"\s*:\s*\[/
        $user = /"(user|pass|rig-id)"\s*:/
        $algo = /"(algo|coin)"\s*:\s*("rx|"cn|"monero|"xmr|"randomx|"kawpow|"ghostrider|null)/ nocase
    condition:
        $donate and $pools and ($user or $algo) and filesize < 2MB
}

rule Vigil_Miner_Command_Line
{
    meta:
        description = "Miner started with pool, wallet and donate-level arguments"
        threat = "CoinMiner/CommandLine"
        severity = "high"
        attack = "T1496.001"
        maturity = "stable"
    strings:
        $donate = /--donate-level(=|\s+)[0-9]/
        $pool = /(-o|--url)(=|\s+)[A-Za-z0-9.\-+:\/]{4,200}:[0-9]{2,5}/
        $wallet = /(-u|--user)(=|\s+)[A-Za-z0-9.]{20,}/
        $cpu = /--(cpu-priority|randomx-1gb-pages|max-cpu-usage|cpu-max-threads-hint)/
    condition:
        $donate and ($pool or $wallet or $cpu) and filesize < 5MB
}

rule Vigil_Miner_Monero_Wallet_Pool
{
    meta:
        description = "Monero wallet address beside a mining pool or miner keyword"
        threat = "CoinMiner/Monero.Wallet"
        severity = "medium"
        attack = "T1496.001"
        maturity = "test"
    strings:
        $wallet = /\b4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b/
        $kw1 = "pool" nocase
        $kw2 = "xmrig" nocase
        $kw3 = "minexmr" nocase
        $kw4 = "hashvault" nocase
        $kw5 = "nanopool" nocase
    condition:
        $wallet and any of ($kw*) and filesize < 5MB
}
