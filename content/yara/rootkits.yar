// Rootkits: user-land LD_PRELOAD libraries that hide files and processes, the scripts that
// install them, and kernel modules that hook system calls.

rule Vigil_Rootkit_LDPreload_Library
{
    meta:
        description = "Shared library that interposes directory listing (readdir via dlsym) and knows /etc/ld.so.preload"
        threat = "Rootkit/LDPreload.Hider"
        severity = "critical"
        attack = "T1574.006"
        maturity = "stable"
    strings:
        $preload = "/etc/ld.so.preload"
        $dlsym = { 00 64 6C 73 79 6D 00 }
        $readdir = /\x00readdir(64)?\x00/
    condition:
        uint32(0) == 0x464c457f and $preload and $dlsym and $readdir
}

rule Vigil_Rootkit_Process_Hider_Library
{
    meta:
        description = "Shared library that interposes readdir and resolves /proc entries to process names (process hiding)"
        threat = "Rootkit/LDPreload.ProcessHider"
        severity = "high"
        attack = "T1014"
        maturity = "stable"
    strings:
        $dlsym = { 00 64 6C 73 79 6D 00 }
        $readdir = /\x00readdir(64)?\x00/
        $fd = "/proc/self/fd/%d"
        $stat = /\/proc\/%(s|d)\/(stat|cmdline|comm)/
    condition:
        uint32(0) == 0x464c457f and $dlsym and $readdir and $fd and $stat
}

rule Vigil_Rootkit_Preload_Install_Script
{
    meta:
        description = "Script that writes a library path into /etc/ld.so.preload"
        threat = "Rootkit/LDPreload.Installer"
        severity = "high"
        attack = "T1574.006"
        maturity = "stable"
    strings:
        $redirect = /(>>?|\btee\s+(-a\s+)?|\bcp\s+[^\n;]{1,100}\s|\bmv\s+[^\n;]{1,100}\s)\s*["']?\/etc\/ld\.so\.preload/
    condition:
        $redirect and filesize < 1MB
}

rule Vigil_Rootkit_Kernel_Module_Syscall_Hook
{
    meta:
        description = "Kernel module that looks up kernel symbols and the system call table to hook directory listing or kill"
        threat = "Rootkit/LKM.SyscallHook"
        severity = "critical"
        attack = "T1547.006"
        maturity = "test"
    strings:
        $modinfo = "vermagic="
        $kallsyms = "kallsyms_lookup_name"
        $table = "sys_call_table"
        $hook1 = "getdents64"
        $hook2 = "__x64_sys_kill"
        $hook3 = "__x64_sys_getdents"
    condition:
        uint32(0) == 0x464c457f and uint16(16) == 1 and $modinfo and $kallsyms and $table and any of ($hook*)
}
