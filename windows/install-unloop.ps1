# SPDX-License-Identifier: GPL-2.0-or-later
<#
.SYNOPSIS
    Installs unloop on this Windows PC: unloop.efi on the EFI system partition,
    a firmware boot entry for it ahead of Windows Boot Manager, and the
    unloop-agent service that marks good boots.

.DESCRIPTION
    Steps (docs/windows-install.md explains each, with the manual commands):
      1. Mount the EFI system partition on a free drive letter (mountvol X: /s).
      2. Back up any unloop.efi / unloop.conf already in \EFI\unloop\, then copy
         unloop.efi and unloop.conf there.
      3. With hand-off mode "chainload" and BitLocker protecting C:, suspend
         BitLocker for one reboot (Suspend-BitLocker -RebootCount 1), because
         chain-loading changes PCR 4 (DESIGN section 6).
      4. Create the firmware boot entry: bcdedit /copy {bootmgr} /d "unloop",
         bcdedit /set {GUID} path \EFI\unloop\unloop.efi, and put it first:
         bcdedit /set {fwbootmgr} displayorder {GUID} /addfirst.
      5. Copy unloop-agent.exe to Program Files and register it as a service
         (unloop-agent.exe --install), which also starts it.
      6. Unmount the ESP and write what was done to
         %ProgramData%\unloop\install-record.json for uninstall-unloop.ps1.
    -WhatIf prints every step and changes nothing.

    NOT YET RUN ON WINDOWS: written from Microsoft's documentation of bcdedit,
    mountvol and the BitLocker cmdlets; see docs/windows-install.md.

.PARAMETER Source
    Folder holding unloop.efi, unloop-agent.exe and (optional) unloop.conf.
    Default: the folder of this script.

.PARAMETER Handoff
    chainload, bootnext or auto. Default: the "handoff =" line of unloop.conf,
    else chainload (unloop's default). Only chainload suspends BitLocker.

.PARAMETER AgentArgs
    Extra options for the agent service, e.g. @('--services','CSFalconService').

.EXAMPLE
    .\install-unloop.ps1 -WhatIf
.EXAMPLE
    .\install-unloop.ps1 -AgentArgs '--services','CSFalconService'
#>
#Requires -Version 5.1
#Requires -RunAsAdministrator
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$Source = $PSScriptRoot,
    [ValidateSet('chainload', 'bootnext', 'auto')]
    [string]$Handoff = '',
    [string]$AgentDir = (Join-Path $env:ProgramFiles 'unloop'),
    [string[]]$AgentArgs = @(),
    [string]$EntryName = 'unloop'
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

# $RecordDir, $RecordPath, $BackupDir, $EspSubdir, Invoke-Native, Get-FreeDriveLetter
. (Join-Path $PSScriptRoot 'unloop-common.ps1')

# The "handoff =" setting of unloop.conf ([unloop] section or before any section).
function Get-ConfHandoff {
    param([string]$Conf)
    if (-not (Test-Path -LiteralPath $Conf)) { return '' }
    $section = 'unloop'
    foreach ($line in Get-Content -LiteralPath $Conf) {
        $t = $line.Trim()
        if ($t -match '^\[\s*([^\]\s]+)') { $section = $Matches[1].ToLower(); continue }
        if ($section -eq 'unloop' -and $t -match '^handoff\s*=\s*([a-z]+)') {
            return $Matches[1].ToLower()
        }
    }
    return ''
}

# --- what we are installing ------------------------------------------------
$efi = Join-Path $Source 'unloop.efi'
$agentExe = Join-Path $Source 'unloop-agent.exe'
$conf = Join-Path $Source 'unloop.conf'
foreach ($f in @($efi, $agentExe)) {
    if (-not (Test-Path -LiteralPath $f)) { throw "missing $f (build it: make; make agent)" }
}
$haveConf = Test-Path -LiteralPath $conf
if (Test-Path -LiteralPath $RecordPath) {
    throw "unloop is already installed ($RecordPath); run uninstall-unloop.ps1 first"
}
if ($Handoff -eq '') { $Handoff = Get-ConfHandoff $conf }
if ($Handoff -eq '') { $Handoff = 'chainload' }

$record = [ordered]@{
    version            = 1
    installed          = (Get-Date).ToUniversalTime().ToString('o')
    handoff            = $Handoff
    esp_dir_existed    = $false
    backed_up          = @()       # files of \EFI\unloop that were there before
    copied             = @()       # files we put on the ESP
    firmware_entry     = $null     # {GUID} of our firmware application entry
    displayorder_before = @()
    bitlocker_suspended = $false
    agent_dir          = $AgentDir
    agent_dir_existed  = (Test-Path -LiteralPath $AgentDir)
    service_installed  = $false
}

# --- 1. mount the ESP --------------------------------------------------------
$letter = Get-FreeDriveLetter
$mounted = $false
if ($PSCmdlet.ShouldProcess("EFI system partition", "mountvol $letter /s")) {
    Invoke-Native 'mountvol.exe' @($letter, '/s') | Out-Null
    $mounted = $true
}

try {
    $espDir = "$letter\$EspSubdir"

    # --- 2. files on the ESP -------------------------------------------------
    if ($mounted) { $record.esp_dir_existed = Test-Path -LiteralPath $espDir }
    if ($PSCmdlet.ShouldProcess($espDir, 'create folder')) {
        New-Item -ItemType Directory -Force -Path $espDir | Out-Null
    }
    $files = @('unloop.efi')
    if ($haveConf) { $files += 'unloop.conf' }
    foreach ($name in $files) {
        $dst = Join-Path $espDir $name
        if ($mounted -and (Test-Path -LiteralPath $dst)) {
            if ($PSCmdlet.ShouldProcess($dst, "back up to $BackupDir")) {
                New-Item -ItemType Directory -Force -Path $BackupDir | Out-Null
                Copy-Item -LiteralPath $dst -Destination (Join-Path $BackupDir $name) -Force
                $record.backed_up += $name
            }
        }
        if ($PSCmdlet.ShouldProcess($dst, "copy $name")) {
            Copy-Item -LiteralPath (Join-Path $Source $name) -Destination $dst -Force
            $record.copied += $name
        }
    }

    # --- 3. BitLocker --------------------------------------------------------
    if ($Handoff -eq 'chainload') {
        $bl = $null
        try { $bl = Get-BitLockerVolume -MountPoint 'C:' -ErrorAction Stop } catch { $bl = $null }
        if ($bl -and $bl.ProtectionStatus -eq 'On') {
            if ($PSCmdlet.ShouldProcess('C:', 'Suspend-BitLocker -RebootCount 1 (chain-loading changes PCR 4)')) {
                Suspend-BitLocker -MountPoint 'C:' -RebootCount 1 | Out-Null
                $record.bitlocker_suspended = $true
            }
        } else {
            Write-Verbose 'BitLocker is not protecting C:; nothing to suspend'
        }
    }

    # --- 4. firmware boot entry ---------------------------------------------
    $fw = Invoke-Native 'bcdedit.exe' @('/enum', '{fwbootmgr}')
    $order = [regex]::Matches($fw, '\{[0-9a-fA-F-]{36}\}|\{bootmgr\}') | ForEach-Object { $_.Value }
    $record.displayorder_before = @($order)
    $guid = '{new entry}'
    if ($PSCmdlet.ShouldProcess('{bootmgr}', "bcdedit /copy {bootmgr} /d `"$EntryName`"")) {
        $out = Invoke-Native 'bcdedit.exe' @('/copy', '{bootmgr}', '/d', $EntryName)
        $m = [regex]::Match($out, '\{[0-9a-fA-F-]{36}\}')
        if (-not $m.Success) { throw "bcdedit /copy gave no GUID: $out" }
        $guid = $m.Value
        $record.firmware_entry = $guid
    }
    if ($PSCmdlet.ShouldProcess($guid, "bcdedit /set $guid path \$EspSubdir\unloop.efi")) {
        Invoke-Native 'bcdedit.exe' @('/set', $guid, 'path', "\$EspSubdir\unloop.efi") | Out-Null
    }
    if ($PSCmdlet.ShouldProcess('{fwbootmgr}', "bcdedit /set {fwbootmgr} displayorder $guid /addfirst")) {
        Invoke-Native 'bcdedit.exe' @('/set', '{fwbootmgr}', 'displayorder', $guid, '/addfirst') | Out-Null
    }

    # --- 5. the agent service -----------------------------------------------
    $agentDst = Join-Path $AgentDir 'unloop-agent.exe'
    if ($PSCmdlet.ShouldProcess($agentDst, 'copy unloop-agent.exe')) {
        New-Item -ItemType Directory -Force -Path $AgentDir | Out-Null
        Copy-Item -LiteralPath $agentExe -Destination $agentDst -Force
    }
    if ($PSCmdlet.ShouldProcess('unloop-agent', "$agentDst --install $($AgentArgs -join ' ')")) {
        Invoke-Native $agentDst (@('--install') + $AgentArgs) | Out-Null
        $record.service_installed = $true
    }
}
finally {
    if ($mounted) { & mountvol.exe $letter /d | Out-Null }
    # Record what was done, even after a failure, so uninstall can undo it.
    if (-not $WhatIfPreference) {
        New-Item -ItemType Directory -Force -Path $RecordDir | Out-Null
        $record | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $RecordPath -Encoding UTF8
    }
}

if ($WhatIfPreference) {
    Write-Host 'What if: nothing was changed.'
} else {
    Write-Host "unloop installed (hand-off: $Handoff, firmware entry $($record.firmware_entry))."
    if ($record.bitlocker_suspended) {
        Write-Host 'BitLocker is suspended for the next reboot, so Windows reseals with unloop in the boot path.'
    }
    Write-Host "Record: $RecordPath (uninstall-unloop.ps1 reads it)."
}
