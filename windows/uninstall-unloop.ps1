# SPDX-License-Identifier: GPL-2.0-or-later
<#
.SYNOPSIS
    Removes what install-unloop.ps1 installed, as recorded in
    %ProgramData%\unloop\install-record.json.

.DESCRIPTION
    Steps (docs/windows-install.md):
      1. With hand-off mode "chainload" and BitLocker protecting C:, suspend
         BitLocker for one reboot: taking unloop out of the boot path changes
         PCR 4 again.
      2. Stop and remove the unloop-agent service (unloop-agent.exe
         --uninstall) and its folder (if install created it).
      3. Delete the firmware boot entry (bcdedit /delete {GUID}); this also
         takes it out of the firmware display order, which is then as it was.
      4. Mount the ESP; put back the files that were backed up, remove the ones
         install copied, and remove \EFI\unloop entirely if install created it
         (with the state, log, keys and BCD.backup unloop kept there).
      5. Unmount the ESP and delete the record.
    -WhatIf prints every step and changes nothing.

    NOT YET RUN ON WINDOWS: see docs/windows-install.md.
#>
#Requires -Version 5.1
#Requires -RunAsAdministrator
[CmdletBinding(SupportsShouldProcess = $true)]
param()

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

# $RecordDir, $RecordPath, $BackupDir, $EspSubdir, Invoke-Native, Get-FreeDriveLetter
. (Join-Path $PSScriptRoot 'unloop-common.ps1')

if (-not (Test-Path -LiteralPath $RecordPath)) {
    throw "no ${RecordPath}: unloop was not installed by install-unloop.ps1 (see docs/windows-install.md for the manual steps)"
}
$record = Get-Content -LiteralPath $RecordPath -Raw | ConvertFrom-Json
if ($record.version -ne 1) { throw "$RecordPath has version $($record.version); this script knows 1" }

# --- 1. BitLocker --------------------------------------------------------------
if ($record.handoff -eq 'chainload') {
    $bl = $null
    try { $bl = Get-BitLockerVolume -MountPoint 'C:' -ErrorAction Stop } catch { $bl = $null }
    if ($bl -and $bl.ProtectionStatus -eq 'On') {
        if ($PSCmdlet.ShouldProcess('C:', 'Suspend-BitLocker -RebootCount 1 (removing unloop changes PCR 4)')) {
            Suspend-BitLocker -MountPoint 'C:' -RebootCount 1 | Out-Null
        }
    }
}

# --- 2. the agent service ----------------------------------------------------------
$agentExe = Join-Path $record.agent_dir 'unloop-agent.exe'
if ($record.service_installed -and (Test-Path -LiteralPath $agentExe)) {
    if ($PSCmdlet.ShouldProcess('unloop-agent', "$agentExe --uninstall")) {
        Invoke-Native $agentExe @('--uninstall') | Out-Null
    }
}
if (Test-Path -LiteralPath $agentExe) {
    if ($PSCmdlet.ShouldProcess($agentExe, 'remove')) {
        Remove-Item -LiteralPath $agentExe -Force
    }
}
if (-not $record.agent_dir_existed -and (Test-Path -LiteralPath $record.agent_dir)) {
    if ($PSCmdlet.ShouldProcess($record.agent_dir, 'remove folder')) {
        Remove-Item -LiteralPath $record.agent_dir -Recurse -Force
    }
}

# --- 3. firmware boot entry ------------------------------------------------------
if ($record.firmware_entry) {
    if ($PSCmdlet.ShouldProcess($record.firmware_entry, "bcdedit /delete $($record.firmware_entry)")) {
        Invoke-Native 'bcdedit.exe' @('/delete', $record.firmware_entry) | Out-Null
    }
}

# --- 4. files on the ESP -----------------------------------------------------------
$letter = Get-FreeDriveLetter
$mounted = $false
if ($PSCmdlet.ShouldProcess('EFI system partition', "mountvol $letter /s")) {
    Invoke-Native 'mountvol.exe' @($letter, '/s') | Out-Null
    $mounted = $true
}
try {
    $espDir = "$letter\$EspSubdir"
    if (-not $record.esp_dir_existed) {
        if ($PSCmdlet.ShouldProcess($espDir, 'remove folder (state, log, keys, BCD.backup)')) {
            if (Test-Path -LiteralPath $espDir) { Remove-Item -LiteralPath $espDir -Recurse -Force }
        }
    } else {
        foreach ($name in @($record.copied)) {
            $dst = Join-Path $espDir $name
            if (@($record.backed_up) -contains $name) {
                if ($PSCmdlet.ShouldProcess($dst, 'restore the copy from before install')) {
                    Copy-Item -LiteralPath (Join-Path $BackupDir $name) -Destination $dst -Force
                }
            } elseif ($PSCmdlet.ShouldProcess($dst, 'remove')) {
                if (Test-Path -LiteralPath $dst) { Remove-Item -LiteralPath $dst -Force }
            }
        }
    }
}
finally {
    if ($mounted) { & mountvol.exe $letter /d | Out-Null }
}

# --- 5. the record -------------------------------------------------------------------
if ($PSCmdlet.ShouldProcess($RecordPath, 'remove the install record and backups')) {
    Remove-Item -LiteralPath $RecordPath -Force
    if (Test-Path -LiteralPath $BackupDir) { Remove-Item -LiteralPath $BackupDir -Recurse -Force }
}

if ($WhatIfPreference) {
    Write-Host 'What if: nothing was changed.'
} else {
    Write-Host 'unloop removed.'
}
