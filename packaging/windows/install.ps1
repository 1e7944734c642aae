# Installs (or removes) gpu_monitor as a Windows service through WinSW 2.x.
# Run in an elevated PowerShell:
#   .\install.ps1 -Exe .\gpu_monitor-windows-x64.exe -WinSW .\WinSW-x64.exe
#   .\install.ps1 -Uninstall            # keeps %ProgramData%\gpu_monitor (config, data, logs)
param(
  [string]$Exe = ".\gpu_monitor-windows-x64.exe",
  [string]$WinSW = ".\WinSW-x64.exe",
  [switch]$Uninstall
)
$ErrorActionPreference = "Stop"
$InstallDir = Join-Path $env:ProgramFiles "gpu_monitor"
$DataDir = Join-Path $env:ProgramData "gpu_monitor"
$Service = Join-Path $InstallDir "gpu_monitor-service.exe"

if ($Uninstall) {
  if (Test-Path $Service) {
    & $Service stop 2>$null
    & $Service uninstall
  }
  Remove-Item -Recurse -Force $InstallDir -ErrorAction SilentlyContinue
  Write-Host "gpu_monitor removed; $DataDir (config, data, logs) is kept"
  exit 0
}

foreach ($file in @($Exe, $WinSW)) {
  if (-not (Test-Path $file)) { throw "not found: $file (pass -Exe and -WinSW)" }
}
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir | Out-Null
if (Test-Path $Service) { & $Service stop 2>$null }   # upgrading: stop before replacing the exe
Copy-Item -Force $Exe (Join-Path $InstallDir "gpu_monitor.exe")
Copy-Item -Force $WinSW $Service
Copy-Item -Force (Join-Path $PSScriptRoot "gpu_monitor-service.xml") (Join-Path $InstallDir "gpu_monitor-service.xml")
$Config = Join-Path $DataDir "config.json"
if (-not (Test-Path $Config)) {
  @'
{
  // Offline until you set server.url and server.contract_number (see the README).
  "collection": { "interval_seconds": 60, "aggregation_interval_hours": 1 },
  "database": { "file": "gpu_metrics.db" },
  "logging": { "file": "gpu_monitor.log", "level": "INFO" }
}
'@ | Set-Content -Encoding UTF8 $Config
}
if (-not (Get-Service -Name "gpu-monitor" -ErrorAction SilentlyContinue)) { & $Service install }
# The service's virtual account instead of LocalSystem: no password, no rights beyond its own
# (nvml.dll in System32 is readable by every user). It exists once the service does.
& sc.exe config gpu-monitor obj= "NT SERVICE\gpu-monitor" | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe config gpu-monitor obj= failed ($LASTEXITCODE)" }
# The data folder (config with the token, database, logs): Administrators and the service only.
# *S-1-5-32-544 is Administrators by SID, whatever the system's language.
New-Item -ItemType Directory -Force -Path (Join-Path $DataDir "logs") | Out-Null
& icacls.exe $DataDir /inheritance:r /grant:r "*S-1-5-32-544:(OI)(CI)F" "NT SERVICE\gpu-monitor:(OI)(CI)M" /T /Q | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $DataDir failed ($LASTEXITCODE)" }
& $Service start
Write-Host "gpu_monitor installed and started; check it with: & '$InstallDir\gpu_monitor.exe' doctor -c '$Config'"
