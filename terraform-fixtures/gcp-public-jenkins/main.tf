provider "google" {
  project = "acme-ci"
  region  = "us-central1"
}

resource "google_compute_network" "ci" {
  name                    = "ci"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "ci" {
  name          = "ci-us-central1"
  network       = google_compute_network.ci.id
  ip_cidr_range = "10.10.0.0/24"
  region        = "us-central1"
}

resource "google_compute_firewall" "jenkins_ui" {
  name          = "allow-jenkins-ui"
  network       = google_compute_network.ci.name
  source_ranges = ["0.0.0.0/0"]
  target_tags   = ["jenkins"]
  allow {
    protocol = "tcp"
    ports    = ["8080"]
  }
}

resource "google_compute_firewall" "runners_ssh" {
  name        = "allow-runner-ssh"
  network     = google_compute_network.ci.name
  source_tags = ["bastion"]
  target_tags = ["runner"]
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_service_account" "jenkins" {
  account_id = "jenkins"
}

resource "google_project_iam_member" "jenkins_editor" {
  project = "acme-ci"
  role    = "roles/editor"
  member  = "serviceAccount:${google_service_account.jenkins.email}"
}

resource "google_compute_instance" "jenkins" {
  name         = "jenkins"
  zone         = "us-central1-a"
  machine_type = "e2-standard-4"
  tags         = ["jenkins"]
  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }
  network_interface {
    subnetwork = google_compute_subnetwork.ci.id
    access_config {}
  }
  service_account {
    email  = google_service_account.jenkins.email
    scopes = ["cloud-platform"]
  }
}

resource "google_compute_instance" "runner" {
  name         = "gitlab-runner-1"
  zone         = "us-central1-a"
  machine_type = "e2-standard-4"
  tags         = ["runner"]
  metadata_startup_script = "gitlab-runner register --non-interactive --token glrt-Qw3rTy7uIoPaSdFgHjKl"
  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }
  network_interface {
    subnetwork = google_compute_subnetwork.ci.id
  }
}
