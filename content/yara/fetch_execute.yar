// Fetch and execute: code downloaded or decoded and handed straight to an interpreter.

rule Vigil_FetchExec_Download_Pipe_Shell
{
    meta:
        description = "Script that pipes a downloaded document into a shell (curl | sh, wget -O- | bash)"
        threat = "Downloader/PipeToShell.Script"
        severity = "medium"
        attack = "T1105"
        maturity = "stable"
    strings:
        $pipe = /\b(curl|wget)\s[^\n|;]{0,300}\|\s*(sudo\s+(-[A-Za-z]+\s+)*)?(\/usr)?(\/bin\/)?(ba|da|z|k)?sh\b/
    condition:
        $pipe and filesize < 2MB
}

rule Vigil_FetchExec_Download_Chmod_Temp
{
    meta:
        description = "Script that downloads into a world-writable directory and marks the download executable"
        threat = "Downloader/TempExec.Script"
        severity = "high"
        attack = "T1105"
        maturity = "stable"
    strings:
        $dl = /\b(curl|wget|tftp|busybox\s+wget)\s[^\n]{0,300}(\/tmp|\/dev\/shm|\/var\/tmp)\/[^\s;&|]+/
        $chmod = /chmod\s+(-R\s+)?(\+x|a\+x|u\+x|[0-7]?[157][0-7][0-7])\s+["']?(\/tmp|\/dev\/shm|\/var\/tmp)\/[^\s;&|]+/
    condition:
        $dl and $chmod and filesize < 2MB
}

rule Vigil_FetchExec_Base64_Pipe_Shell
{
    meta:
        description = "Script that decodes base64 text and runs it with a shell or eval"
        threat = "Dropper/Base64Shell.Script"
        severity = "high"
        attack = "T1140"
        maturity = "stable"
    strings:
        $pipe = /base64\s+(-d|--decode|-D)\b[^\n|]{0,60}\|\s*(sudo\s+)?(\/usr)?(\/bin\/)?(ba|da|z|k)?sh\b/
        $eval = /eval\s+["']?\$\(\s*(echo|printf)\s+[^\n)]{16,}\|\s*base64\s+(-d|--decode|-D)/
    condition:
        any of them and filesize < 2MB
}

rule Vigil_FetchExec_Python_Remote_Exec
{
    meta:
        description = "Python that executes code read from a URL (exec(urlopen(...).read()))"
        threat = "Downloader/PythonRemoteExec"
        severity = "high"
        attack = "T1105"
        maturity = "stable"
    strings:
        $exec = /\bexec\s*\(\s*(urllib2|urllib\.request|urllib|requests)\s*\.\s*(urlopen|get)\s*\(/
    condition:
        $exec and filesize < 2MB
}
