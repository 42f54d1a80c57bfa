@echo off
rem Set up (first time only) and open Transformer Workbench: app.sh on Windows.
where py >nul 2>nul
if %errorlevel%==0 (py -3 "%~dp0scripts\bootstrap.py" app %*) else (python "%~dp0scripts\bootstrap.py" app %*)
exit /b %errorlevel%
