# SPDX-License-Identifier: GPL-2.0-or-later
# What install-unloop.ps1 and uninstall-unloop.ps1 share; dot-sourced by both
# (keep it in the same folder).

$RecordDir = Join-Path $env:ProgramData 'unloop'
$RecordPath = Join-Path $RecordDir 'install-record.json'
$BackupDir = Join-Path $RecordDir 'backup'
$EspSubdir = 'EFI\unloop'

# Run a native program; throw with its output when it fails.
function Invoke-Native {
    param([string]$Exe, [string[]]$Arguments)
    # 'Stop' would turn the program's first stderr line into a terminating
    # error in Windows PowerShell 5.1; the exit code decides instead.
    $ErrorActionPreference = 'Continue'
    $out = & $Exe @Arguments 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        throw "$Exe $($Arguments -join ' ') failed (exit $LASTEXITCODE): $out"
    }
    return $out
}

function Get-FreeDriveLetter {
    $used = (Get-PSDrive -PSProvider FileSystem).Name
    foreach ($c in [char[]]'SRQPONMLKJIHGTUVWXYZ') {
        if ($used -notcontains [string]$c) { return "$($c):" }
    }
    throw 'no free drive letter to mount the EFI system partition on'
}
