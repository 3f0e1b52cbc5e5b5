// Persistence: scheduled downloads, injected SSH keys, services that run from temporary
// directories.

rule Vigil_Persistence_Cron_Download_Exec
{
    meta:
        description = "Cron schedule whose command downloads and runs a script"
        threat = "Persistence/CronDownloader"
        severity = "high"
        attack = "T1053.003"
        maturity = "stable"
    strings:
        $cron = /(@reboot|@hourly|@daily|(\*|[0-9]{1,2})(\/[0-9]{1,2})?\s+(\*|[0-9]{1,2})\s+\*\s+\*\s+\*)\s+(root\s+)?[^\n]{0,200}\b(curl|wget)\s[^\n]{0,300}\|\s*(\/bin\/)?(ba)?sh\b/
    condition:
        $cron and filesize < 2MB
}

rule Vigil_Persistence_Crontab_Injection
{
    meta:
        description = "Script that appends a job to the user's crontab through a pipe (crontab -l; echo ...) | crontab -"
        threat = "Persistence/CrontabInjection.Script"
        severity = "medium"
        attack = "T1053.003"
        maturity = "stable"
    strings:
        $inject = /crontab\s+-l[^\n]{0,100}echo\s[^\n]{0,400}\|\s*crontab\s+-/
        $fetch = /(\b(curl|wget|base64)\b|\/dev\/tcp\/|\/tmp\/|\/dev\/shm\/)/
    condition:
        $inject and $fetch and filesize < 2MB
}

rule Vigil_Persistence_SSH_Key_Injection
{
    meta:
        description = "Script that appends a literal public key to an authorized_keys file"
        threat = "Persistence/SSHKeyInjection.Script"
        severity = "medium"
        attack = "T1098.004"
        maturity = "stable"
    strings:
        $inject = /(echo|printf)\s+(-[a-z]+\s+)?["']?(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp[0-9]{3})\s+AAAA[A-Za-z0-9+\/=]{40,}[^\n]{0,120}>>?\s*["']?[^\s;&|]{0,80}authorized_keys/
    condition:
        $inject and filesize < 2MB
}

rule Vigil_Persistence_Systemd_Temp_Exec
{
    meta:
        description = "systemd unit that starts a program from a world-writable directory"
        threat = "Persistence/SystemdTempExec"
        severity = "high"
        attack = "T1543.002"
        maturity = "stable"
    strings:
        $unit = "[Service]"
        $exec = /Exec(Start|StartPre|StartPost|Reload)=[-@:+!]{0,3}(\/bin\/(ba)?sh\s+-c\s+["']?)?(\/tmp|\/dev\/shm|\/var\/tmp)\//
    condition:
        $unit and $exec and filesize < 256KB
}
