// Web shells: server-side pages that hand request input to an evaluator or a command runner.

rule Vigil_Webshell_PHP_Eval_Request
{
    meta:
        description = "PHP page that evaluates or executes a request parameter"
        threat = "Backdoor/Webshell.PHP.EvalRequest"
        severity = "critical"
        attack = "T1505.003"
        maturity = "stable"
    strings:
        $php = "<?"
        $sink = /\b(eval|assert|system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec)\s*\(\s*(@\s*)?(base64_decode\s*\(\s*|stripslashes\s*\(\s*|trim\s*\(\s*|urldecode\s*\(\s*)*\$_(GET|POST|REQUEST|COOKIE|SERVER\s*\[\s*['"]HTTP_)/ nocase
    condition:
        $php and $sink
}

rule Vigil_Webshell_PHP_Obfuscated_Eval
{
    meta:
        description = "PHP page that evaluates code hidden behind a decode chain (gzinflate, str_rot13, base64)"
        threat = "Backdoor/Webshell.PHP.ObfuscatedEval"
        severity = "high"
        attack = "T1505.003"
        maturity = "stable"
    strings:
        $php = "<?"
        $chain = /\b(eval|assert)\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|strrev|base64_decode|hex2bin)\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|strrev|base64_decode|hex2bin)\s*\(/ nocase
    condition:
        $php and $chain
}

rule Vigil_Webshell_PHP_Dynamic_Call_Request
{
    meta:
        description = "PHP page that calls a function whose name or body comes from the request (variable functions, create_function, preg_replace /e)"
        threat = "Backdoor/Webshell.PHP.DynamicCall"
        severity = "high"
        attack = "T1505.003"
        maturity = "stable"
    strings:
        $php = "<?"
        $varfunc = /\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $create = /create_function\s*\([^;]{0,80}\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $pregE = /preg_replace\s*\(\s*['"]\/[^'"]{0,60}\/[a-df-z]*e[a-z]*['"]\s*,[^;]{0,80}\$_(GET|POST|REQUEST|COOKIE)/ nocase
    condition:
        $php and any of ($varfunc, $create, $pregE)
}

rule Vigil_Webshell_JSP_Exec_Request
{
    meta:
        description = "JSP page that runs a command taken from a request parameter"
        threat = "Backdoor/Webshell.JSP.ExecRequest"
        severity = "critical"
        attack = "T1505.003"
        maturity = "stable"
    strings:
        $jsp1 = "<%"
        $jsp2 = "jsp:" nocase
        $runtime = /Runtime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(\s*(new\s+String\s*\[\s*\]\s*\{[^}]{0,80})?request\s*\.\s*getParameter/
        $pb = /new\s+ProcessBuilder\s*\([^;]{0,120}request\s*\.\s*getParameter/
    condition:
        ($jsp1 or $jsp2) and ($runtime or $pb)
}

rule Vigil_Webshell_JSP_Classloader_Request
{
    meta:
        description = "JSP page that defines a class from request bytes (memory shell loader)"
        threat = "Backdoor/Webshell.JSP.ClassLoader"
        severity = "critical"
        attack = "T1505.003"
        maturity = "test"
    strings:
        $jsp = "<%"
        $define = "defineClass" ascii
        $b64 = /(Base64\s*\.\s*getDecoder\s*\(\s*\)\s*\.\s*decode|BASE64Decoder\s*\(\s*\)\s*\.\s*decodeBuffer)/
        $req = /request\s*\.\s*(getParameter|getReader|getInputStream)/
    condition:
        $jsp and $define and $b64 and $req
}
