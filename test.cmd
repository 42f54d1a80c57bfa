@echo off
rem Set up (first time only) and run the test suite: test.sh on Windows.
where py >nul 2>nul
if %errorlevel%==0 (py -3 "%~dp0scripts\bootstrap.py" test %*) else (python "%~dp0scripts\bootstrap.py" test %*)
exit /b %errorlevel%
