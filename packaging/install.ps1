# Installs the prebuilt seedream-mcp binary from a GitHub release (Windows):
#   powershell -ExecutionPolicy Bypass -c "irm https://github.com/seedream-mcp/seedream-mcp/releases/latest/download/seedream-mcp-installer.ps1 | iex"
# Settings (environment): SEEDREAM_MCP_VERSION, SEEDREAM_MCP_INSTALL_DIR (default
# %LOCALAPPDATA%\Programs\seedream-mcp), SEEDREAM_MCP_DOWNLOAD_URL (the folder holding the archives).
# The archive's SHA-256 is checked against the .sha256 file published beside it. Windows on Arm
# runs the x64 binary under emulation.
$ErrorActionPreference = 'Stop'

$version = if ($env:SEEDREAM_MCP_VERSION) { $env:SEEDREAM_MCP_VERSION } else { '0.1.0' }
$installDir = if ($env:SEEDREAM_MCP_INSTALL_DIR) { $env:SEEDREAM_MCP_INSTALL_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\seedream-mcp' }
$base = if ($env:SEEDREAM_MCP_DOWNLOAD_URL) { $env:SEEDREAM_MCP_DOWNLOAD_URL } else { "https://github.com/seedream-mcp/seedream-mcp/releases/download/v$version" }
$name = 'seedream-mcp-x86_64-pc-windows-msvc'

$tmp = Join-Path ([System.IO.Path]::GetTempPath()) ([System.Guid]::NewGuid())
New-Item -ItemType Directory -Path $tmp | Out-Null
try {
    $zip = Join-Path $tmp "$name.zip"
    Invoke-WebRequest -UseBasicParsing -Uri "$base/$name.zip" -OutFile $zip
    $want = ((Invoke-WebRequest -UseBasicParsing -Uri "$base/$name.zip.sha256").Content -split '\s+')[0]
    $got = (Get-FileHash -Algorithm SHA256 $zip).Hash.ToLowerInvariant()
    if ($want -ne $got) { throw "$name.zip has SHA-256 $got, the release says ${want}: not installed" }
    Expand-Archive -Path $zip -DestinationPath $tmp
    New-Item -ItemType Directory -Force -Path $installDir | Out-Null
    $exe = Join-Path $installDir 'seedream-mcp.exe'
    Copy-Item -Force (Join-Path $tmp "$name\seedream-mcp.exe") $exe
    Write-Output "installed $(& $exe --version) to $exe"
    $userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
    if (-not ($userPath -split ';' -contains $installDir)) {
        [Environment]::SetEnvironmentVariable('Path', "$userPath;$installDir", 'User')
        Write-Output "added $installDir to your PATH (new terminals will see it)"
    }
} finally {
    Remove-Item -Recurse -Force $tmp
}
