"""Forms say each problem once, where it belongs, and only once something was typed (issue 15.18, 15.19)."""
import re


def test_setup_shows_a_short_password_under_the_password_field(client, auth):
    response = client.post("/setup", data={"username": "root", "password": "short", "confirm": "short",
                                           "csrf_token": auth.csrf("/setup")})
    page = response.get_data(as_text=True)
    labels = {m.group(1): m.group(2) for m in re.finditer(r'<label for="(\w+)">(.*?)</label>', page, re.S)}
    assert response.status_code == 400 and "at least 8 characters" in labels["password"]
    assert "field-error" not in labels["username"]


def test_new_forms_do_not_check_before_typing(client, auth, users):
    auth.login("operator")
    project = client.get("/ui/projects/new").get_data(as_text=True)
    config = client.get("/ui/configs/new").get_data(as_text=True)
    assert re.search(r'hx-trigger="[^"]*\bload\b', project) is None
    assert re.search(r'hx-trigger="[^"]*\bload\b', config) is None


def test_project_check_says_an_empty_name_once(client, auth, users):
    auth.login("operator")
    feedback = auth.post("/ui/projects/validate", {"name": "", "description": "x"}).get_data(as_text=True)
    assert "Name: This field is required." in feedback and "name must be a slug" not in feedback


def test_config_check_leaves_an_untouched_name_alone(client, auth, users):
    auth.login("operator")
    check = auth.post("/ui/configs/check", {"name": "", "content": "learning_rate: 1.0e-4\n"}).get_data(as_text=True)
    assert "problem" not in check and 'data-invalid="false"' in check
    bad = auth.post("/ui/configs/check", {"name": "Bad Name", "content": "a: 1\n"}).get_data(as_text=True)
    assert "config name must be a slug" in bad


def test_config_check_names_the_lines_of_its_problems(client, auth, users):
    auth.login("operator")
    check = auth.post("/ui/configs/check", {"content": "a: 1\nb: [\nc: 3\n"}).get_data(as_text=True)
    lines = re.search(r'data-lines="([^"]*)"', check).group(1).replace("&#34;", '"')
    assert 'data-invalid="true"' in check and lines not in ("", "[]")


def test_a_new_config_without_a_name_says_so_once_under_the_field(client, auth, users):
    auth.login("operator")
    page = auth.post("/ui/configs/new", {"name": "", "content": "a: 1\n"}).get_data(as_text=True)
    assert page.count("This field is required.") == 1 and 'field-error">This field is required.' in page
