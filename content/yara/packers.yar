// Packed ELF executables: UPX (intact or with its marks scrubbed) and headerless
// high-entropy images.

import "math"

rule Vigil_ELF_UPX_Packed
{
    meta:
        description = "ELF executable packed with UPX (the UPX! header follows the program headers)"
        threat = "Packed/ELF.UPX"
        severity = "medium"
        attack = "T1027.002"
        maturity = "stable"
    strings:
        $upx = "UPX!"
    condition:
        uint32(0) == 0x464c457f and $upx in (0..1024)
}

rule Vigil_ELF_UPX_Scrubbed_Header
{
    meta:
        description = "ELF with the UPX decompression stub whose UPX! header was overwritten (tampered to defeat unpacking)"
        threat = "Packed/ELF.UPX.Tampered"
        severity = "high"
        attack = "T1027.002"
        maturity = "stable"
    strings:
        $upx = "UPX!"
        $stub1 = "PROT_EXEC|PROT_WRITE failed"
        $stub2 = "$Info: This file is packed with the UPX"
        $stub3 = "$Id: UPX "
    condition:
        uint32(0) == 0x464c457f and any of ($stub*) and not $upx in (0..1024)
}

rule Vigil_ELF_High_Entropy_No_Sections
{
    meta:
        description = "64-bit ELF without section headers whose body is near-random (packed or encrypted payload)"
        threat = "Packed/ELF.Encrypted"
        severity = "medium"
        attack = "T1027.002"
        maturity = "test"
    condition:
        uint32(0) == 0x464c457f and uint8(4) == 2 and uint16(0x3c) == 0 and
        filesize > 4KB and filesize < 32MB and
        math.entropy(0x40, filesize - 0x40) > 7.5
}
