// Reverse shells: an interactive shell whose standard streams are wired to a network peer.

rule Vigil_RevShell_Bash_DevTcp
{
    meta:
        description = "Interactive shell redirected to a /dev/tcp or /dev/udp socket"
        threat = "Backdoor/ReverseShell.Bash.DevTcp"
        severity = "critical"
        attack = "T1059.004"
        maturity = "stable"
    strings:
        $dev = /\/dev\/(tcp|udp)\/[A-Za-z0-9.\-_:]{1,253}\/[0-9]{1,5}/
        $interactive = /\b(ba|z|k|da)?sh\s+-i\b/
        $dup = /[0-9]?>&\s*[0-9]|0<&[0-9]+|<>\s*\/dev\/(tcp|udp)/
    condition:
        $dev and ($interactive or $dup) and filesize < 1MB
}

rule Vigil_RevShell_Netcat_Exec
{
    meta:
        description = "Netcat or ncat started with a program to run for the connection (-e / -c / --exec)"
        threat = "Backdoor/ReverseShell.Netcat"
        severity = "critical"
        attack = "T1059.004"
        maturity = "stable"
    strings:
        $nc_e = /\b(nc|ncat|netcat|nc\.traditional)\s+([^|;\n]{0,80}\s)?-(e|c)\s*["']?\/?(bin\/|usr\/bin\/)?(ba|z|k|da)?sh\b/
        $ncat_exec = /\bncat\s+[^|;\n]{0,80}--(exec|sh-exec)\s/
    condition:
        any of them and filesize < 1MB
}

rule Vigil_RevShell_Mkfifo_Pipe
{
    meta:
        description = "Named pipe looped through a shell and a network client (mkfifo | sh | nc)"
        threat = "Backdoor/ReverseShell.Fifo"
        severity = "critical"
        attack = "T1059.004"
        maturity = "stable"
    strings:
        $fifo = /\b(mkfifo|mknod)\s+[^\n;]{1,60}(\s+p)?/
        $loop = /\|\s*\/?(bin\/|usr\/bin\/)?(ba|z|k|da)?sh\s+-i\s+[^\n]{0,30}\|\s*(nc|ncat|netcat|telnet|openssl\s+s_client)\b/
    condition:
        $fifo and $loop and filesize < 1MB
}

rule Vigil_RevShell_Python_Socket
{
    meta:
        description = "Python that connects a socket and duplicates it onto the standard streams of a shell"
        threat = "Backdoor/ReverseShell.Python"
        severity = "critical"
        attack = "T1059.006"
        maturity = "stable"
    strings:
        $sock = "socket.socket(" ascii
        $connect = ".connect((" ascii
        $dup2 = /os\.dup2\s*\(\s*[a-z_]+\.fileno\s*\(\s*\)\s*,\s*[012]\s*\)/
        $shell1 = /pty\.spawn\s*\(\s*["'](\/bin\/)?(ba|z)?sh["']/
        $shell2 = /subprocess\.(call|Popen|run)\s*\(\s*\[\s*["'](\/bin\/)?(ba|z)?sh["']/
    condition:
        $sock and $connect and $dup2 and ($shell1 or $shell2) and filesize < 1MB
}

rule Vigil_RevShell_Perl_Socket
{
    meta:
        description = "Perl that opens a socket, reopens STDIN/STDOUT on it and executes a shell"
        threat = "Backdoor/ReverseShell.Perl"
        severity = "critical"
        attack = "T1059"
        maturity = "stable"
    strings:
        $use = /use\s+(Socket|IO::Socket)/
        $reopen = /open\s*\(\s*STD(IN|OUT|ERR)\s*,\s*["']?>&/
        $exec = /exec\s*\(?\s*["'](\/bin\/)?(ba|z)?sh(\s+-i)?["']/
    condition:
        $use and $reopen and $exec and filesize < 1MB
}

rule Vigil_RevShell_Socat_Exec
{
    meta:
        description = "socat joining a TCP/SSL peer with an executed shell"
        threat = "Backdoor/ReverseShell.Socat"
        severity = "critical"
        attack = "T1059.004"
        maturity = "stable"
    strings:
        $exec = /\bsocat\s[^\n]{0,200}(exec|system):['"]?\/?(bin\/)?(ba|z)?sh\b/ nocase
        $peer = /(tcp|tcp4|tcp6|openssl|ssl)(-connect)?:[A-Za-z0-9.\-_\[\]:]{1,255}:[0-9]{1,5}/ nocase
    condition:
        $exec and $peer and filesize < 1MB
}

rule Vigil_RevShell_PHP_Fsockopen
{
    meta:
        description = "PHP that opens a socket with fsockopen and runs a shell on its descriptor"
        threat = "Backdoor/ReverseShell.PHP"
        severity = "critical"
        attack = "T1059"
        maturity = "stable"
    strings:
        $sock = /fsockopen\s*\(/
        $shell = /(exec|shell_exec|system|passthru|popen|proc_open)\s*\(\s*["'](\/bin\/)?(ba|z)?sh\s+-i\s*<&\s*[0-9]/
    condition:
        $sock and $shell and filesize < 1MB
}
