// Defense evasion in scripts: stopping security tools, removing cloud monitoring agents,
// wiping logs and history, locking files against removal.

rule Vigil_DefEvasion_Disable_Security_Tools
{
    meta:
        description = "Script that turns off two or more security controls (SELinux, AppArmor, auditd, firewall, EDR services)"
        threat = "HackTool/DisableSecurity.Script"
        severity = "high"
        attack = "T1562.001"
        maturity = "stable"
    strings:
        $selinux1 = /setenforce\s+0/
        $selinux2 = /SELINUX=disabled/
        $selinux3 = /echo\s+0\s*>\s*\/(sys\/fs\/)?selinux\/enforce/
        $svc = /(systemctl\s+(stop|disable|mask)|service)\s+(apparmor|auditd|firewalld|falcon-sensor|osqueryd|wazuh-agent|ossec|clamav-daemon|clamd|sysmon|aegis|auoms|mdatp|sentinelone|cbagentd)\b/
        $ufw = /ufw\s+disable/
        $auditctl = /auditctl\s+-(e\s*0|D)\b/
        $iptables = /iptables\s+(-F|--flush)\b[^\n]{0,40}\n[^\n]{0,200}iptables\s+-P\s+INPUT\s+ACCEPT/
    condition:
        2 of them and filesize < 2MB
}

rule Vigil_DefEvasion_Remove_Cloud_Agents
{
    meta:
        description = "Script that stops or uninstalls cloud providers' monitoring agents (a habit of mining botnets)"
        threat = "HackTool/RemoveCloudAgent.Script"
        severity = "high"
        attack = "T1562.001"
        maturity = "stable"
    strings:
        $a1 = "/usr/local/aegis" nocase
        $a2 = "aliyun-service"
        $a3 = "AliYunDun"
        $a4 = "/usr/local/qcloud"
        $a5 = "YDService"
        $a6 = "bcm-agent"
        $a7 = "cloudmonitor" nocase
        $a8 = "hostguard" nocase
        $act = /(uninstall|pkill|killall|kill\s+-9|rm\s+-(r|f|rf|fr)\s|systemctl\s+(stop|disable))/
    condition:
        2 of ($a*) and $act and filesize < 2MB
}

rule Vigil_DefEvasion_Clear_Logs_History
{
    meta:
        description = "Script that clears shell history and system logs (two or more wiping steps)"
        threat = "HackTool/ClearTracks.Script"
        severity = "medium"
        attack = "T1070.002"
        maturity = "stable"
    strings:
        $h1 = /history\s+-c\b/
        $h2 = /unset\s+HISTFILE\b/
        $h3 = /HISTFILE=\/dev\/null/
        $h4 = /HISTSIZE=0\b/
        $l1 = /(cat\s+\/dev\/null\s*|echo\s*(-n\s*)?(""|'')?\s*|:\s*|\n)>\s*\/var\/log\/(wtmp|btmp|lastlog|auth\.log|secure|syslog|messages)/
        $l5 = /truncate\s+-s\s*0\s+\/var\/log\//
        $l2 = /rm\s+-(r|f|rf|fr)\s+\/var\/log(\/\*|\s)/
        $l3 = /shred\s+[^\n]{0,40}\/var\/log\//
        $l4 = /journalctl\s+--vacuum-(time|size)=1/
    condition:
        2 of them and filesize < 2MB
}

rule Vigil_DefEvasion_Chattr_Lock_Persistence
{
    meta:
        description = "Script that makes persistence or credential files immutable with chattr"
        threat = "HackTool/ChattrLock.Script"
        severity = "high"
        attack = "T1222.002"
        maturity = "stable"
    strings:
        $lock = /chattr\s+(-R\s+)?\+[ia]{1,2}\s+[^\n]{0,60}(\/etc\/ld\.so\.preload|authorized_keys|\/etc\/crontab|\/var\/spool\/cron|\/etc\/cron\.d|\/etc\/passwd|\/etc\/shadow|\/etc\/rc\.local)/
    condition:
        $lock and filesize < 2MB
}
